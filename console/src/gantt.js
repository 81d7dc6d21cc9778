// Layout of the dispatch timeline: where each assignment bar sits on a day's axis.
const HOUR = 3600 * 1000

/**
 * Bars as percentages of the day [dayStartIso, dayEndIso): clipped at both ends, with
 * ``clippedStart``/``clippedEnd`` telling that the bar runs on from the day before or after.
 * Overlapping bars (which the backend forbids for one vehicle, but a driver row may show a
 * released and a new one) get separate ``lane``s.
 */
export function layoutBars(bars, dayStartIso, dayEndIso) {
  const start = Date.parse(dayStartIso)
  const end = Date.parse(dayEndIso)
  const span = end - start
  const laneEnds = []
  return [...bars]
    .map((b) => ({ b, s: Date.parse(b.starts_at), e: Date.parse(b.busy_until || b.ends_at) }))
    .filter(({ s, e }) => e > start && s < end)
    .sort((x, y) => x.s - y.s)
    .map(({ b, s, e }) => {
      const from = Math.max(s, start)
      const to = Math.min(e, end)
      let lane = laneEnds.findIndex((t) => t <= from)
      if (lane === -1) { lane = laneEnds.length; laneEnds.push(to) } else laneEnds[lane] = to
      return {
        ...b,
        left: round(((from - start) / span) * 100),
        width: round(Math.max(((to - from) / span) * 100, 0.5)),
        clippedStart: s < start,
        clippedEnd: e > end,
        lane,
      }
    })
}

/** Hour ticks of the day: [{hour: 0, left: 0}, … {hour: 24, left: 100}] every ``step`` hours. */
export function hourTicks(dayStartIso, dayEndIso, step = 2) {
  const span = Date.parse(dayEndIso) - Date.parse(dayStartIso)
  const hours = Math.round(span / HOUR)
  const ticks = []
  for (let h = 0; h <= hours; h += step) ticks.push({ hour: h, left: round(((h * HOUR) / span) * 100) })
  return ticks
}

/** Share of the day a row is busy, for the utilisation column (0–100). */
export function busyShare(bars, dayStartIso, dayEndIso) {
  const laid = layoutBars(bars, dayStartIso, dayEndIso)
  const total = laid.reduce((sum, b) => sum + b.width, 0)
  return Math.min(100, Math.round(total))
}

const round = (x) => Math.round(x * 100) / 100
