import { describe, expect, it } from 'vitest'
import { countBy, fromCents, supplierTotals, toCents } from '../src/money.js'

describe('money', () => {
  it('converts amounts to cents and back exactly', () => {
    expect(toCents('515.50')).toBe(51550)
    expect(toCents('0.1')).toBe(10)
    expect(toCents('-5.05')).toBe(-505)
    expect(fromCents(51550)).toBe('515.50')
    expect(fromCents(-505)).toBe('-5.05')
    expect(() => toCents('12,00')).toThrow()
  })
  it('sums statements per supplier without float drift', () => {
    const totals = supplierTotals([
      { supplier: 'fleet', total: '0.10' }, { supplier: 'fleet', total: '0.20' },
      { supplier: 'rental-a', total: '425.00' },
    ])
    expect(totals.map((t) => [t.supplier, t.text])).toEqual([['fleet', '0.30'], ['rental-a', '425.00']])
  })
})

describe('countBy', () => {
  it('counts most frequent first, ties by key', () => {
    expect(countBy([{ r: 'b' }, { r: 'a' }, { r: 'b' }, { r: 'c' }], (x) => x.r)).toEqual([['b', 2], ['a', 1], ['c', 1]])
  })
})
