// Times travel as ISO 8601 with offset; people read and type them in Beijing time.
const OFFSET = '+08:00'
const OFFSET_MS = 8 * 3600 * 1000

function pad(n) { return n < 10 ? `0${n}` : `${n}` }

// "2026-11-26" + "09:00" → "2026-11-26T09:00:00+08:00"
function toIso(date, time) {
  if (!date || !time) return ''
  return `${date}T${time}:00${OFFSET}`
}

// Any ISO string → "2026-11-26 09:00" in Beijing time.
function display(iso) {
  if (!iso) return ''
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return String(iso)
  const d = new Date(ms + OFFSET_MS)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

// Beijing calendar date of now + days, as "YYYY-MM-DD" (picker default).
function beijingDate(days = 0) {
  const d = new Date(Date.now() + OFFSET_MS + days * 86400000)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
}

// The Asia/Shanghai wall-clock time now, HH:MM (a form's "from now" default).
function beijingTime() {
  const d = new Date(Date.now() + 8 * 3600 * 1000)
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

module.exports = { toIso, display, beijingDate, beijingTime }
