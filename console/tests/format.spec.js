import { describe, expect, it } from 'vitest'
import { date, dateTime, dayStart, label, nextDay, person, previousMonth, route, time, today, TRIP_STATES } from '../src/format.js'

describe('dates are shown in Beijing time whatever the offset sent', () => {
  it('formats UTC and +08:00 instants alike', () => {
    expect(dateTime('2026-12-03T17:30:00Z')).toBe('2026-12-04 01:30')
    expect(dateTime('2026-12-04T01:30:00+08:00')).toBe('2026-12-04 01:30')
    expect(date('2026-12-03T16:00:00Z')).toBe('2026-12-04')
    expect(time('2026-12-04T09:05:00+08:00')).toBe('09:05')
  })
  it('shows a dash for missing or bad values', () => {
    expect(dateTime(null)).toBe('—')
    expect(date('not a date')).toBe('—')
  })
  it('knows today and the previous month in Beijing', () => {
    expect(today(new Date('2026-12-31T17:00:00Z'))).toBe('2027-01-01')
    expect(previousMonth(new Date('2027-01-01T01:00:00+08:00'))).toBe('2026-12')
    expect(previousMonth(new Date('2026-12-15T12:00:00+08:00'))).toBe('2026-11')
  })
  it('makes day bounds for filters', () => {
    expect(dayStart('2026-12-04')).toBe('2026-12-04T00:00:00+08:00')
    expect(nextDay('2026-12-31')).toBe('2027-01-01')
    expect(nextDay('2028-02-28')).toBe('2028-02-29')
  })
})

describe('labels', () => {
  it('translates states and keeps unknown codes', () => {
    expect(label(TRIP_STATES, 'pending_approval')).toBe('审批中')
    expect(label(TRIP_STATES, 'new_state')).toBe('new_state')
    expect(label(TRIP_STATES, null)).toBe('—')
  })
  it('joins people and routes', () => {
    expect(person({ name: '张明', phone: '13800000001' })).toBe('张明 13800000001')
    expect(person({ name: '张三' })).toBe('张三')
    expect(route([{ name: 'A' }, { name: 'B' }])).toBe('A → B')
    expect(route([])).toBe('—')
  })
})
