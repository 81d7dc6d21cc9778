// Backend location. A value stored under STORAGE_KEY_BASE_URL (wx.setStorageSync)
// wins over the default, so a device or a test run can point elsewhere without a rebuild.
module.exports = {
  DEFAULT_BASE_URL: 'http://127.0.0.1:8000/api/v1',
  STORAGE_KEY_BASE_URL: 'api_base_url',
  REQUEST_TIMEOUT_MS: 15000,
  // Extra attempts after a network failure (wx.request fail callback), same Idempotency-Key.
  NETWORK_RETRIES: 2,
  RETRY_DELAY_MS: 300,
}
