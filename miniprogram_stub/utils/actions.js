// The backend names on every trip, approval task and settlement what the caller may do
// now (`allowed_actions`). Pages show an action only when it is named there; they keep no
// state or role rules of their own.

// ['cancel', 'withdraw'] → { cancel: true, withdraw: true }, for wx:if in templates.
function allowed(obj) {
  const flags = {}
  for (const name of (obj && obj.allowed_actions) || []) flags[name] = true
  return flags
}

module.exports = { allowed }
