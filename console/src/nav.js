// Which screens the signed-in user's roles open (the API still checks every call).
export const SCREENS = [
  { path: '/dispatch', title: '调度台', icon: 'Van', roles: ['dispatcher'] },
  { path: '/trips', title: '行程查询', icon: 'Search', roles: ['dispatcher', 'finance', 'supervisor', 'admin', 'approver', 'platform_approver'] },
  { path: '/finance', title: '结算与对账', icon: 'Money', roles: ['finance'] },
  { path: '/supervision', title: '监督检查', icon: 'View', roles: ['supervisor', 'admin', 'approver'] },
  { path: '/dashboard', title: '监督看板', icon: 'DataAnalysis', roles: ['supervisor', 'admin'] },
  { path: '/map', title: '车辆实时位置', icon: 'Location', roles: ['dispatcher', 'supervisor'] },
  { path: '/admin', title: '系统管理', icon: 'Setting', roles: ['admin'] },
]

export function screensFor(roles = []) {
  return SCREENS.filter((s) => s.roles.some((r) => roles.includes(r)))
}

/** Where a user lands after signing in: their first screen, or the "nothing here" page. */
export function homeFor(roles = []) {
  const first = screensFor(roles)[0]
  return first ? first.path : '/none'
}
