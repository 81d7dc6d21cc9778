App({
  onLaunch() {
    // Login happens on the login page; the request module re-logins silently on 401.
  },
})
