import { createRouter, createWebHistory } from 'vue-router'
import { session, loadMe } from './api.js'
import { homeFor, screensFor } from './nav.js'

const Login = () => import('./views/Login.vue')
const ChangePassword = () => import('./views/ChangePassword.vue')
const Dispatch = () => import('./views/Dispatch.vue')
const Trips = () => import('./views/Trips.vue')
const TripDetail = () => import('./views/TripDetail.vue')
const Finance = () => import('./views/Finance.vue')
const Admin = () => import('./views/Admin.vue')
const Supervision = () => import('./views/Supervision.vue')
const Dashboard = () => import('./views/Dashboard.vue')
const LiveMap = () => import('./views/LiveMap.vue')
const Nothing = () => import('./views/Nothing.vue')

export const routes = [
  { path: '/login', component: Login, meta: { public: true } },
  { path: '/password', component: ChangePassword, meta: { title: '修改密码' } },
  { path: '/dispatch', component: Dispatch, meta: { title: '调度台' } },
  { path: '/trips', component: Trips, meta: { title: '行程查询' } },
  { path: '/trips/:id', component: TripDetail, meta: { title: '行程详情' }, props: true },
  { path: '/finance', component: Finance, meta: { title: '结算与对账' } },
  { path: '/supervision', component: Supervision, meta: { title: '监督检查' } },
  { path: '/dashboard', component: Dashboard, meta: { title: '监督看板' } },
  { path: '/map', component: LiveMap, meta: { title: '车辆实时位置' } },
  { path: '/admin/:tab?', component: Admin, meta: { title: '系统管理' }, props: true },
  { path: '/none', component: Nothing, meta: { title: '无可用功能' } },
  { path: '/', redirect: () => homeFor(session.user ? session.user.roles : []) },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory('/console/'), routes })

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!session.token) return { path: '/login', query: { next: to.fullPath } }
  if (session.mustChange) return to.path === '/password' ? true : '/password'
  if (!session.user) {
    try { await loadMe() } catch { return { path: '/login', query: { next: to.fullPath } } }
  }
  if (to.path === '/') return homeFor(session.user.roles)
  const screen = screensFor(session.user.roles).find((s) => to.path.startsWith(s.path))
  const known = ['/password', '/none'].includes(to.path)
  if (!screen && !known) return homeFor(session.user.roles)
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title ? to.meta.title + ' · ' : ''}公务用车管理控制台`
})
