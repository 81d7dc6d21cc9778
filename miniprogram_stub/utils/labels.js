// Chinese display names for the contract's enums; display only, no rules.
const TRIP_STATES = {
  draft: '草稿',
  quoted: '已报价',
  pending_approval: '待审批',
  approved: '已批准',
  price_changed: '待确认新价',
  dispatched: '已派车',
  in_progress: '行程中',
  completed: '已完成',
  confirmed: '已确认',
  settled: '已结算',
  rejected: '已驳回',
  withdrawn: '已撤回',
  cancelled: '已取消',
  expired: '已过期',
}

const TASK_STATES = { pending: '待审批', approved: '已同意', rejected: '已驳回', cancelled: '已撤销' }

const CHANNELS = { fleet: '公务车平台', rental: '租赁公司', ridehail: '网约车' }

const PROVIDER_STATUSES = { ok: '正常', timeout: '超时', error: '异常', not_applicable: '不适用' }

const PURPOSES = [
  { value: 'meeting', label: '会议' },
  { value: 'inspection', label: '调研' },
  { value: 'enforcement', label: '执法' },
  { value: 'emergency', label: '应急' },
  { value: 'reception', label: '接待' },
  { value: 'other', label: '其他' },
]

const VEHICLE_CLASSES = [
  { value: null, label: '不限' },
  { value: 'sedan', label: '轿车' },
  { value: 'mpv', label: '商务车' },
  { value: 'minibus', label: '中巴' },
  { value: 'bus', label: '大巴' },
]

const VEHICLE_CLASS_NAMES = { sedan: '轿车', mpv: '商务车', minibus: '中巴', bus: '大巴' }

// The backend's charge line kinds (app/billing/tariff.py, provider bills, decisions).
const CHARGE_KINDS = {
  time_block: '时段费', overtime: '超时费', mileage: '里程费', meal_allowance: '驾驶员餐补',
  toll: '通行费', parking: '停车费', lodging: '住宿费', rental: '租车费',
  cancellation_fee: '取消费', ceiling_cap: '超限核减',
  // ride-hailing fee breakdowns (providers/ridehail.py FEE_LABELS)
  base: '起步价', distance: '里程费', time: '时长费', tolls: '通行费', other: '其他费用',
}

// The request fields a user fills in, named as the forms name them ('parent.field' where
// the name depends on the parent).
const FIELD_LABELS = {
  purpose: '用车事由', 'purpose.category': '事由类别', 'purpose.text': '事由说明',
  passengers: '乘车人', 'passengers.name': '姓名', stops: '地点', 'stops.name': '地点名称',
  lat: '纬度', lng: '经度', depart_at: '出发时间', return_at: '返回时间', vehicle_class: '车型',
  offer_id: '用车方案', reason: '原因', comment: '意见', odometer_km: '里程', at: '时间',
  delegate_id: '代理人', starts_at: '开始时间', ends_at: '结束时间', template_ids: '订阅消息',
}

// 'passengers[1].name' → '乘车人第2项 姓名'; a field without a label keeps its own name.
function fieldLabel(path) {
  let parent = ''
  return String(path || '').split('.').map((part) => {
    const [, key, index] = part.match(/^(.*?)(?:\[(\d+)\])?$/)
    const label = FIELD_LABELS[`${parent}.${key}`] || FIELD_LABELS[key] || key
    parent = key
    return index === undefined ? label : `${label}第${Number(index) + 1}项`
  }).join(' ')
}

function tripStateLabel(state) { return TRIP_STATES[state] || state || '' }

function taskStateLabel(state) { return TASK_STATES[state] || state || '' }

module.exports = {
  TRIP_STATES, TASK_STATES, CHANNELS, PROVIDER_STATUSES, PURPOSES, VEHICLE_CLASSES,
  VEHICLE_CLASS_NAMES, CHARGE_KINDS, FIELD_LABELS, fieldLabel, tripStateLabel, taskStateLabel,
}
