import { describe, expect, it } from 'vitest'
import { histogram, percent, pivot, previousQuarter, quarterOf, thresholdBin } from '../src/charts.js'

describe('utilisation histogram', () => {
  const items = [
    { km: '164.9', threshold_km: '4643.8', below_threshold: true },
    { km: '0.0', threshold_km: '4643.8', below_threshold: true },
    { km: '5200.0', threshold_km: '4643.8', below_threshold: false },
    { km: '9999.9', threshold_km: '4643.8', below_threshold: false },
  ]
  it('puts every vehicle in exactly one bin, the largest in the last', () => {
    const bins = histogram(items, 10)
    expect(bins).toHaveLength(10)
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(4)
    expect(bins[0].count).toBe(2)
    expect(bins[9].count).toBe(1)
    expect(bins[9].to).toBeGreaterThanOrEqual(9999.9)
  })
  it('counts the vehicles the API marked below the threshold', () => {
    const bins = histogram(items, 10)
    expect(bins[0].below).toBe(2)
    expect(bins.reduce((s, b) => s + b.below, 0)).toBe(2)
  })
  it('keeps the threshold on the axis when every vehicle is far below it', () => {
    const bins = histogram([{ km: '10', threshold_km: '5000', below_threshold: true }], 5)
    expect(bins[4].to).toBeGreaterThanOrEqual(5000)
    const at = thresholdBin(bins, '5000')
    expect(at).toBeGreaterThan(3)
    expect(at).toBeLessThanOrEqual(4.5)
  })
  it('handles an empty fleet', () => {
    const bins = histogram([], 4)
    expect(bins.every((b) => b.count === 0)).toBe(true)
  })
})

describe('spend pivot', () => {
  it('sums amounts per month and channel in cents, without float drift', () => {
    const rows = [
      { month: '2026-11', channel: 'fleet', amount: '0.10' },
      { month: '2026-11', channel: 'fleet', amount: '0.20' },
      { month: '2026-10', channel: 'rental', amount: '1378.02' },
      { month: '2026-11', channel: 'rental', amount: '1.01' },
    ]
    const p = pivot(rows, 'month', 'channel', 'amount')
    expect(p.months).toEqual(['2026-10', '2026-11'])
    expect(p.channels).toEqual(['fleet', 'rental'])
    expect(p.series.fleet).toEqual([0, 0.3])
    expect(p.series.rental).toEqual([1378.02, 1.01])
  })
})

describe('labels', () => {
  it('shows shares as percentages and no base as a dash', () => {
    expect(percent('0.3529')).toBe('35.3%')
    expect(percent(null)).toBe('—')
  })
  it('knows quarters', () => {
    expect(quarterOf('2026-12-05')).toBe('2026Q4')
    expect(quarterOf('2026-01-01')).toBe('2026Q1')
    expect(previousQuarter('2026Q1')).toBe('2025Q4')
    expect(previousQuarter('2026Q4')).toBe('2026Q3')
  })
})
