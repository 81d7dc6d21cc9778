// The administration screen's resources: columns and create forms (labels only; the API
// validates every field and answers field errors in Chinese).
import { ENERGY_TYPES, ROLES, UNIT_LEVELS, VEHICLE_CLASSES, VEHICLE_STATUS } from './format.js'

const options = (table) => Object.entries(table).map(([value, label]) => ({ value, label }))
export const PLACEMENTS = { pooled: '统管', stationed: '驻点' }
export const SEVERITIES = { low: '低', medium: '中', high: '高' }
export const LICENCE_CLASSES = ['A1', 'A2', 'A3', 'B1', 'B2', 'C1'].map((v) => ({ value: v, label: v }))

export const RESOURCES = {
  units: {
    title: '单位', path: '/admin/units',
    columns: [['name', '名称'], ['level', '级别', UNIT_LEVELS], ['region_code', '行政区划代码'], ['parent_id', '上级单位', 'unit']],
    form: [
      { key: 'name', label: '名称', type: 'text' },
      { key: 'level', label: '级别', type: 'select', options: options(UNIT_LEVELS) },
      { key: 'parent_id', label: '上级单位', type: 'unit' },
      { key: 'region_code', label: '行政区划代码', type: 'text' },
    ],
  },
  users: {
    title: '用户', path: '/admin/users',
    columns: [['name', '姓名'], ['phone', '手机号'], ['unit_id', '单位', 'unit'], ['roles', '角色', ROLES], ['active', '启用', 'bool'], ['bound', '已绑定微信', 'bool']],
    form: [
      { key: 'name', label: '姓名', type: 'text' },
      { key: 'phone', label: '手机号', type: 'text' },
      { key: 'unit_id', label: '单位', type: 'unit' },
      { key: 'roles', label: '角色', type: 'multi', options: options(ROLES) },
    ],
  },
  vehicles: {
    title: '车辆', path: '/admin/vehicles',
    columns: [['plate', '车牌'], ['vehicle_class', '车型', VEHICLE_CLASSES], ['seats', '座位'], ['energy_type', '能源', ENERGY_TYPES],
      ['pooled', '平台统管', 'bool'], ['placement', '放置', PLACEMENTS], ['unit_id', '所属单位', 'unit'], ['odometer_km', '里程表(km)'], ['status', '状态', VEHICLE_STATUS],
      ['device_id', '定位终端'], ['depot', '停放点', 'depot']],
    form: [
      { key: 'plate', label: '车牌', type: 'text' },
      { key: 'vehicle_class', label: '车型', type: 'select', options: options(VEHICLE_CLASSES) },
      { key: 'seats', label: '座位数', type: 'number' },
      { key: 'energy_type', label: '能源类型', type: 'select', options: options(ENERGY_TYPES) },
      { key: 'pooled', label: '平台统管', type: 'bool', default: true },
      { key: 'unit_id', label: '所属单位', type: 'unit' },
      { key: 'odometer_km', label: '里程表(km)', type: 'text', default: '0' },
      { key: 'device_id', label: '定位终端编号', type: 'text' },
      { key: 'depot_lat', label: '停放点纬度', type: 'coord' },
      { key: 'depot_lng', label: '停放点经度', type: 'coord' },
    ],
  },
  drivers: {
    title: '驾驶员', path: '/admin/drivers',
    columns: [['name', '姓名'], ['phone', '手机号'], ['license_class', '准驾车型'], ['unit_id', '单位', 'unit'], ['active', '在岗', 'bool']],
    form: [
      { key: 'name', label: '姓名', type: 'text' },
      { key: 'phone', label: '手机号', type: 'text' },
      { key: 'license_class', label: '准驾车型', type: 'select', options: LICENCE_CLASSES, default: 'B1' },
      { key: 'unit_id', label: '单位', type: 'unit' },
    ],
  },
}

/** The request body of a create form: empty optional fields left out, numbers as numbers. */
export function bodyOf(form, values) {
  const body = {}
  for (const f of form) {
    let v = values[f.key]
    if (v === undefined || v === '' || v === null) continue
    if (f.type === 'number' || f.type === 'unit' || f.type === 'coord') v = Number(v)
    body[f.key] = v
  }
  return body
}

/** One cell's text: labels for coded values, 是/否 for flags, unit names for unit ids. */
export function cellText(kind, value, unitNames = {}) {
  if (value === null || value === undefined) return '—'
  if (kind === 'bool') return value ? '是' : '否'
  if (kind === 'depot') return value.lat == null ? '—' : `${value.lat}, ${value.lng}`
  if (kind === 'unit') return unitNames[value] || `#${value}`
  if (kind && typeof kind === 'object') return Array.isArray(value) ? value.map((v) => kind[v] || v).join('、') : kind[value] || value
  return String(value)
}

/** A violation rule's params as edited in the form (all text inputs) back in the rule's own
 * types: whole numbers stay numbers (minutes), everything else stays a string (km, ratios and
 * "HH:MM" times are strings in the API). Keys are the rule's keys, all of them. */
export function ruleParams(original, edited) {
  const out = {}
  for (const [key, value] of Object.entries(original || {})) {
    const text = edited[key] === undefined || edited[key] === null ? '' : String(edited[key]).trim()
    if (typeof value === 'number') out[key] = text === '' || !/^-?\d+$/.test(text) ? text : Number(text)
    else out[key] = text
  }
  return out
}

/** A partner's create body from the flat form: the service area as one object, numbers as numbers. */
export function partnerBody(values) {
  const body = {}
  for (const key of ['code', 'name', 'city', 'base_url', 'our_id', 'secret']) {
    if (values[key] !== undefined && values[key] !== '') body[key] = values[key]
  }
  if (values.unit_id) body.unit_id = Number(values.unit_id)
  const area = {}
  for (const side of ['south', 'west', 'north', 'east']) {
    if (values[side] !== undefined && values[side] !== '') area[side] = Number(values[side])
  }
  if (Object.keys(area).length) body.service_area = area
  body.enabled = values.enabled !== false
  return body
}

/** The PATCH body of an edit form: only the fields whose value differs from the row's. */
export function changedBody(form, values, row) {
  const body = bodyOf(form, values)
  for (const [key, value] of Object.entries(body)) {
    if (row[key] !== undefined && row[key] !== null && String(row[key]) === String(value)) delete body[key]
  }
  return body
}
