// Presentation only: dates in Asia/Shanghai, Chinese labels. Money is shown as the API sends it.
export const TZ = 'Asia/Shanghai'

const parts = (iso, opts) => {
  if (!iso) return null
  const d = iso instanceof Date ? iso : new Date(iso)
  if (Number.isNaN(d.getTime())) return null
  const out = {}
  for (const p of new Intl.DateTimeFormat('en-CA', { timeZone: TZ, hourCycle: 'h23', ...opts }).formatToParts(d)) out[p.type] = p.value
  return out
}

/** "2026-12-04 09:30" in Beijing time. */
export function dateTime(iso) {
  const p = parts(iso, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : '—'
}

/** "2026-12-04" in Beijing time. */
export function date(iso) {
  const p = parts(iso, { year: 'numeric', month: '2-digit', day: '2-digit' })
  return p ? `${p.year}-${p.month}-${p.day}` : '—'
}

/** "09:30" in Beijing time. */
export function time(iso) {
  const p = parts(iso, { hour: '2-digit', minute: '2-digit' })
  return p ? `${p.hour}:${p.minute}` : '—'
}

/** Today's date in Beijing ("2026-12-04"). */
export function today(now = new Date()) { return date(now) }

/** The previous calendar month in Beijing ("2026-11"). */
export function previousMonth(now = new Date()) {
  const [y, m] = date(now).split('-').map(Number)
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`
}

/** ISO instant of Beijing midnight starting ``day`` ("2026-12-04" → "2026-12-04T00:00:00+08:00"). */
export function dayStart(day) { return `${day}T00:00:00+08:00` }

/** The Beijing day after ``day``. */
export function nextDay(day) {
  const d = new Date(`${day}T12:00:00+08:00`)
  d.setUTCDate(d.getUTCDate() + 1)
  return date(d)
}

export const TRIP_STATES = {
  draft: '草稿', quoted: '已询价', pending_approval: '审批中', approved: '已批准',
  dispatched: '已派车', in_progress: '行程中', completed: '已完成', confirmed: '已确认',
  settled: '已结算', rejected: '已驳回', withdrawn: '已撤回', cancelled: '已取消', expired: '已过期',
}
export const SETTLEMENT_STATES = {
  draft: '草稿', pending_confirmation: '待确认', confirmed: '已确认', disputed: '有异议', closed: '已关账',
}
export const CHANNELS = { fleet: '公车平台', rental: '租赁公司', ridehail: '网约车' }
export const PURPOSES = {
  meeting: '会议', inspection: '检查调研', enforcement: '执法', emergency: '应急',
  reception: '公务接待', other: '其他',
}
export const ROLES = {
  traveler: '用车人', approver: '审批人', platform_approver: '平台审批', dispatcher: '调度员',
  driver: '驾驶员', finance: '财务', supervisor: '监管', admin: '管理员',
}
export const VEHICLE_CLASSES = { sedan: '轿车', mpv: '商务车', minibus: '中巴', bus: '大巴' }
export const ENERGY_TYPES = { petrol: '汽油', diesel: '柴油', hybrid: '油电混合', phev: '插电混动', electric: '纯电动' }
export const VEHICLE_STATUS = { available: '可用', maintenance: '维修', retired: '已报废' }
export const UNIT_LEVELS = { city: '市级', district: '区县级', town: '镇街级' }
export const ACTIONS = {
  assign: '派车', reassign: '改派', unassign: '取消派车', switch_to_fleet: '转公车平台',
  cancel: '取消', issue: '发出', confirm: '确认', dispute: '提出异议', close: '关账', export: '导出',
  resolve_dispute: '处理异议',
}

export const label = (table, key) => (key == null ? '—' : table[key] || key)

/** "张明 13800000001" */
export const person = (p) => (p ? [p.name, p.phone].filter(Boolean).join(' ') : '—')

/** Route of a trip's stops: "市民广场 → 武进区政府". */
export const route = (stops) => (stops || []).map((s) => s.name).join(' → ') || '—'
