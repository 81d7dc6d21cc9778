// What the page tests share: signing in through the login page, and a trip of the fake
// backend with the contract's fields (a test overrides what it is about).
const assert = require('node:assert/strict')
const { bridge, openPage } = require('./miniapp')

async function signIn(openid) {
  bridge.useUser(openid)
  const login = await openPage('/pages/login/index')
  await login.tap('#login')
  assert.equal(login.data.error, '')
}

function addTrip(backend, fields) {
  const id = backend.state.seq += 1
  const trip = Object.assign({
    id, state: 'draft', cross_region: false, unit_id: 1, applicant_id: 1,
    purpose: { category: 'meeting', text: '会议' }, passengers: [{ name: '张三' }],
    stops: [{ name: '市政府', lat: 31.81, lng: 119.97 }, { name: '规划馆', lat: 31.78, lng: 119.95 }],
    depart_at: '2026-11-26T01:00:00Z', return_at: '2026-11-26T04:00:00Z', vehicle_class: null, history: [],
  }, fields)
  backend.state.trips.set(id, trip)
  return trip
}

module.exports = { signIn, addTrip }
