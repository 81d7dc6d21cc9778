// Money arrives as strings with two decimals ("515.50") and is shown as sent. Sums for a
// chart are done in integer cents so that no binary rounding creeps in.
export function toCents(text) {
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim())
  if (!m) throw new Error(`not an amount: ${text}`)
  const cents = Number(m[2]) * 100 + Number((m[3] || '0').padEnd(2, '0'))
  return m[1] ? -cents : cents
}

export function fromCents(cents) {
  const sign = cents < 0 ? '-' : ''
  const abs = Math.abs(cents)
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}

/** Statement totals summed per supplier: [{supplier, cents, total (number for the axis), text}]. */
export function supplierTotals(statements) {
  const by = new Map()
  for (const s of statements) by.set(s.supplier, (by.get(s.supplier) || 0) + toCents(s.total))
  return [...by.entries()].sort((a, b) => a[0].localeCompare(b[0]))
    .map(([supplier, cents]) => ({ supplier, cents, total: cents / 100, text: fromCents(cents) }))
}

/** [[key, count], …] of ``items`` by ``keyOf``, most frequent first (ties by key). */
export function countBy(items, keyOf) {
  const by = new Map()
  for (const item of items) { const k = keyOf(item); by.set(k, (by.get(k) || 0) + 1) }
  return [...by.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
}
