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
