// Shared page plumbing: one place that runs a user action, tracks loading and shows
// the backend's Chinese error message (toast and the page's visible `error` field).
const api = require('./request')
const { fieldLabel } = require('./labels')

// What the user reads: the first wrong field and what is wrong with it when the backend
// names one ("出发时间：必填"), else the backend's message.
function errorText(err) {
  if (err && err.field) return `${fieldLabel(err.field.path)}：${err.field.message}`
  return (err && err.message) || '操作失败，请重试'
}

function showError(page, err) {
  const message = errorText(err)
  page.setData({ error: message })
  wx.showToast({ title: message, icon: 'none', duration: 3000 })
  if (err && (err.code === 'binding_required' || err.status === 401)) {
    wx.reLaunch({ url: '/pages/login/index' })
  }
}

// Runs fn for a page; `page._pending` holds the promise so a test (or a caller) can
// wait until the action has settled. Resolves to fn's result, or undefined on error.
function run(page, fn) {
  page.setData({ loading: true, error: '' })
  const p = (async () => {
    try {
      return await fn()
    } catch (err) {
      showError(page, err)
      return undefined
    } finally {
      page.setData({ loading: false })
    }
  })()
  page._pending = p
  return p
}

// Reads "a.b[0].c"-style paths from data-path and writes the input's value there,
// so forms need one handler for all their fields.
function bindField(e) {
  const path = e.currentTarget.dataset.path
  this.setData({ [path]: e.detail.value })
}

// Sends a mutating call under the page's Idempotency-Key for this action. The key lives
// until the backend has answered, so a tap repeated after a network failure replays the
// same action; any answer (success or a business error) ends it.
async function keyed(page, action, send) {
  const prop = `_key_${action}`
  if (!page[prop]) page[prop] = api.newActionKey()
  try {
    const result = await send(page[prop])
    page[prop] = null
    return result
  } catch (err) {
    if (err.code !== 'network_error') page[prop] = null
    throw err
  }
}

module.exports = { run, keyed, bindField, errorText }
