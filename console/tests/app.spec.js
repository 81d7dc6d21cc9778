import { describe, expect, it } from 'vitest'
import { ApiError, explain, filenameOf, query } from '../src/api.js'
import { homeFor, screensFor } from '../src/nav.js'
import { bodyOf, cellText, RESOURCES } from '../src/admin.js'

describe('navigation by role', () => {
  it('opens each console role its screens', () => {
    expect(screensFor(['dispatcher']).map((s) => s.path)).toEqual(['/dispatch', '/trips', '/map'])
    expect(screensFor(['finance']).map((s) => s.path)).toEqual(['/trips', '/finance'])
    expect(homeFor(['admin'])).toBe('/trips')
    expect(screensFor(['supervisor']).map((s) => s.path)).toEqual(['/trips', '/supervision', '/dashboard', '/map'])
    expect(screensFor(['admin']).map((s) => s.path)).toEqual(['/trips', '/supervision', '/dashboard', '/admin'])
    expect(homeFor(['traveler'])).toBe('/none')
  })
})

describe('api helpers', () => {
  it('builds query strings without empty values', () => {
    expect(query({ a: 1, b: '', c: null, d: undefined, e: '武进' })).toBe('?a=1&e=%E6%AD%A6%E8%BF%9B')
    expect(query({})).toBe('')
  })
  it('reads RFC 5987 file names', () => {
    expect(filenameOf("attachment; filename=x.xlsx; filename*=UTF-8''%E7%BB%93%E7%AE%97%E5%8D%95-2026-10.xlsx")).toBe('结算单-2026-10.xlsx')
    expect(filenameOf('attachment; filename="a.csv"')).toBe('a.csv')
    expect(filenameOf(null)).toBe(null)
  })
  it('explains an error with its first field error', () => {
    const err = new ApiError(422, { message: '提交的数据不合法', errors: { new: ['至少8位'] } })
    expect(explain(err)).toBe('提交的数据不合法（new：至少8位）')
    expect(explain(new ApiError(409, { message: '冲突' }))).toBe('冲突')
  })
})

describe('administration forms', () => {
  it('sends only filled fields, numbers as numbers', () => {
    const body = bodyOf(RESOURCES.vehicles.form, { plate: '苏D12345', vehicle_class: 'sedan', seats: 5, energy_type: 'electric', pooled: true, unit_id: '3', odometer_km: '' })
    expect(body).toEqual({ plate: '苏D12345', vehicle_class: 'sedan', seats: 5, energy_type: 'electric', pooled: true, unit_id: 3 })
  })
  it('renders coded cells', () => {
    expect(cellText('bool', false)).toBe('否')
    expect(cellText('unit', 3, { 3: '武进区' })).toBe('武进区')
    expect(cellText({ a: '甲', b: '乙' }, ['a', 'b'])).toBe('甲、乙')
    expect(cellText(undefined, null)).toBe('—')
  })
})

describe('violation rules and partners', () => {
  it('keeps each rule parameter in its own type and sends every key', async () => {
    const { ruleParams } = await import('../src/admin.js')
    const original = { max_gap_minutes: 5, min_gap_km: '3', ratio: '0.15', night_start: '22:00' }
    const edited = { max_gap_minutes: '10', min_gap_km: ' 4.5 ', ratio: '0.2' }
    expect(ruleParams(original, edited)).toEqual({ max_gap_minutes: 10, min_gap_km: '4.5', ratio: '0.2', night_start: '' })
    // A non-integer in a minutes field is left as text for the API to refuse with a field error.
    expect(ruleParams({ early_minutes: 60 }, { early_minutes: '1.5' })).toEqual({ early_minutes: '1.5' })
  })
  it('builds a partner body with its service area as one object', async () => {
    const { partnerBody } = await import('../src/admin.js')
    const body = partnerBody({ code: 'nj', name: '南京市公务用车平台', city: '南京市', base_url: 'http://127.0.0.1:9/api', our_id: 'changzhou',
      secret: 'x'.repeat(24), south: '31.2', north: '32.6', west: '118.3', east: '119.2', unit_id: '' })
    expect(body.service_area).toEqual({ south: 31.2, north: 32.6, west: 118.3, east: 119.2 })
    expect(body.enabled).toBe(true)
    expect(body).not.toHaveProperty('unit_id')
  })
  it('shows a vehicle depot and placement', async () => {
    const { PLACEMENTS } = await import('../src/admin.js')
    expect(cellText('depot', { lat: 31.81, lng: 119.97 })).toBe('31.81, 119.97')
    expect(cellText('depot', { lat: null, lng: null })).toBe('—')
    expect(cellText(PLACEMENTS, 'stationed')).toBe('驻点')
  })
})

describe('editing a vehicle', () => {
  it('sends only what changed', async () => {
    const { changedBody } = await import('../src/admin.js')
    const row = { plate: '苏DD1019', vehicle_class: 'bus', seats: 45, energy_type: 'electric', pooled: true, unit_id: 1, odometer_km: '46264.1', device_id: '860000000000019', depot_lat: 31.8106, depot_lng: 119.9741 }
    const values = { ...row, device_id: '860000000000099', depot_lat: '31.9' }
    expect(changedBody(RESOURCES.vehicles.form, values, row)).toEqual({ device_id: '860000000000099', depot_lat: 31.9 })
  })
})
