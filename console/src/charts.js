// Pure helpers shaping report answers into chart series (no business rule: the API decides
// thresholds, below_threshold and recall candidates; these only group and count).

/** Histogram of km per vehicle: ``bins`` equal-width bins from 0 to the largest of the km and
 * the threshold (so the threshold line is always on the axis). Each bin: {from, to, count, below}
 * where ``below`` counts vehicles the API marked below_threshold. */
export function histogram(items, bins = 10) {
  const kms = items.map((v) => Number(v.km))
  const top = Math.max(1, ...kms, ...items.map((v) => Number(v.threshold_km || 0)))
  const width = Math.ceil(top / bins / 100) * 100 || 100
  const out = Array.from({ length: bins }, (_, i) => ({ from: i * width, to: (i + 1) * width, count: 0, below: 0 }))
  items.forEach((v, i) => {
    const k = Math.min(bins - 1, Math.floor(kms[i] / width))
    out[k].count += 1
    if (v.below_threshold) out[k].below += 1
  })
  return out
}

/** The threshold's position on a histogram's category axis (a fractional bin index). */
export function thresholdBin(bins, km) {
  if (!bins.length) return 0
  const width = bins[0].to - bins[0].from
  return Number(km) / width - 0.5
}

/** Rows of {month, channel, amount} (amount a decimal string) summed per month and channel:
 * {months: [...sorted], channels: [...sorted], series: {channel: [amount per month]}}. */
export function pivot(rows, rowKey, colKey, valueKey) {
  const months = [...new Set(rows.map((r) => r[rowKey]))].sort()
  const channels = [...new Set(rows.map((r) => r[colKey]))].sort()
  const series = Object.fromEntries(channels.map((c) => [c, months.map(() => 0)]))
  for (const r of rows) {
    const cents = Math.round(Number(r[valueKey]) * 100)
    series[r[colKey]][months.indexOf(r[rowKey])] += cents
  }
  for (const c of channels) series[c] = series[c].map((cents) => cents / 100)
  return { months, channels, series }
}

/** A four-decimal fraction as a percentage text; null (no base) as a dash. */
export function percent(share) {
  if (share === null || share === undefined) return '—'
  return `${(Number(share) * 100).toFixed(1)}%`
}

/** The quarter a date (Asia/Shanghai calendar date 'YYYY-MM-DD') falls in, and the one before. */
export function quarterOf(day) {
  const [y, m] = day.split('-').map(Number)
  return `${y}Q${Math.floor((m - 1) / 3) + 1}`
}
export function previousQuarter(q) {
  const y = Number(q.slice(0, 4))
  const n = Number(q.slice(5))
  return n === 1 ? `${y - 1}Q4` : `${y}Q${n - 1}`
}
