// Display view of a trip as the contract returns it; no rules, only labels and the
// backend's allowed_actions as flags (`can.cancel`).
const { tripStateLabel, PURPOSES } = require('./labels')
const { allowed } = require('./actions')
const time = require('./time')

function purposeLabel(purpose) {
  if (!purpose) return ''
  const found = PURPOSES.find((p) => p.value === purpose.category)
  return [found ? found.label : purpose.category, purpose.text].filter(Boolean).join('：')
}

function routeText(stops) {
  return (stops || []).map((s) => s.name).filter(Boolean).join(' → ')
}

function viewTrip(t) {
  return Object.assign({}, t, {
    stateLabel: tripStateLabel(t.state),
    routeText: routeText(t.stops),
    purposeText: purposeLabel(t.purpose),
    departText: time.display(t.depart_at),
    returnText: time.display(t.return_at),
    passengerText: (t.passengers || []).map((p) => p.name).join('、'),
    can: allowed(t),
    history: (t.history || []).map((h) => Object.assign({}, h, {
      stateLabel: tripStateLabel(h.state),
      atText: time.display(h.at),
    })),
  })
}

module.exports = { viewTrip }
