import { describe, expect, it } from 'vitest'
import { busyShare, hourTicks, layoutBars } from '../src/gantt.js'

const DAY = ['2026-12-04T00:00:00+08:00', '2026-12-05T00:00:00+08:00']
const bar = (id, from, to) => ({ assignment_id: id, trip_id: id, starts_at: from, busy_until: to, ends_at: to })

describe('layoutBars', () => {
  it('places a bar by Beijing time as a share of the day', () => {
    const [b] = layoutBars([bar(1, '2026-12-04T06:00:00+08:00', '2026-12-04T12:00:00+08:00')], ...DAY)
    expect(b.left).toBe(25)
    expect(b.width).toBe(25)
    expect(b.clippedStart).toBe(false)
    expect(b.lane).toBe(0)
  })

  it('reads UTC instants as the same moments', () => {
    const [b] = layoutBars([bar(1, '2026-12-04T01:00:00Z', '2026-12-04T04:00:00Z')], ...DAY)
    expect(b.left).toBe(37.5) // 09:00 Beijing
    expect(b.width).toBe(12.5)
  })

  it('clips bars running over midnight and drops bars of other days', () => {
    const laid = layoutBars([
      bar(1, '2026-12-03T22:00:00+08:00', '2026-12-04T03:00:00+08:00'),
      bar(2, '2026-12-04T21:00:00+08:00', '2026-12-05T02:00:00+08:00'),
      bar(3, '2026-12-05T08:00:00+08:00', '2026-12-05T10:00:00+08:00'),
      bar(4, '2026-12-03T08:00:00+08:00', '2026-12-04T00:00:00+08:00'),
    ], ...DAY)
    expect(laid.map((b) => b.trip_id)).toEqual([1, 2])
    expect(laid[0]).toMatchObject({ left: 0, width: 12.5, clippedStart: true, clippedEnd: false })
    expect(laid[1]).toMatchObject({ left: 87.5, width: 12.5, clippedStart: false, clippedEnd: true })
  })

  it('puts overlapping bars in separate lanes and reuses a lane once free', () => {
    const laid = layoutBars([
      bar(1, '2026-12-04T08:00:00+08:00', '2026-12-04T12:00:00+08:00'),
      bar(2, '2026-12-04T10:00:00+08:00', '2026-12-04T14:00:00+08:00'),
      bar(3, '2026-12-04T12:00:00+08:00', '2026-12-04T13:00:00+08:00'),
    ], ...DAY)
    expect(laid.map((b) => [b.trip_id, b.lane])).toEqual([[1, 0], [2, 1], [3, 0]])
  })

  it('keeps a very short bar visible', () => {
    const [b] = layoutBars([bar(1, '2026-12-04T08:00:00+08:00', '2026-12-04T08:01:00+08:00')], ...DAY)
    expect(b.width).toBe(0.5)
  })
})

describe('hourTicks and busyShare', () => {
  it('ticks every two hours from 0 to 24', () => {
    const ticks = hourTicks(...DAY, 2)
    expect(ticks).toHaveLength(13)
    expect(ticks[6]).toEqual({ hour: 12, left: 50 })
  })

  it('sums the busy share of a row', () => {
    expect(busyShare([bar(1, '2026-12-04T06:00:00+08:00', '2026-12-04T12:00:00+08:00'),
      bar(2, '2026-12-04T18:00:00+08:00', '2026-12-05T06:00:00+08:00')], ...DAY)).toBe(50)
  })
})
