// Runs the mini-program's pages under miniprogram-simulate outside jest: a jsdom window
// for j-component's rendering, the real-HTTP wx bridge, and a small driver that acts
// like a user (types into inputs, taps elements) and waits for the page's action.
const path = require('node:path')
const { JSDOM } = require('jsdom')
const { createBridge } = require('./wx-bridge')

const ROOT = path.resolve(__dirname, '..', '..')

const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>')
global.window = dom.window
global.document = dom.window.document
// Node has its own Event and CustomEvent, which jsdom's dispatchEvent rejects: replace them.
for (const name of ['Node', 'Element', 'HTMLElement', 'Event', 'CustomEvent']) {
  Object.defineProperty(global, name, { value: dom.window[name], configurable: true, writable: true })
}

const bridge = createBridge()
// miniprogram-simulate merges its mock wx under whatever global.wx holds at require time;
// copying the bridge on afterwards makes sure our functions win.
global.wx = {}
const simulate = require('miniprogram-simulate')
Object.assign(global.wx, bridge.wx)
global.getApp = () => ({ globalData: {} })
global.getCurrentPages = () => []

function parseUrl(url) {
  const [route, qs] = url.replace(/^\//, '').split('?')
  const query = {}
  new URLSearchParams(qs || '').forEach((v, k) => { query[k] = v })
  return { route, query }
}

// Waits for event dispatch (j-component delivers events in a microtask) and then for
// the action the handler started (utils/page.js run() keeps it as _pending).
async function settle(comp) {
  for (let i = 0; i < 100; i += 1) {
    await simulate.sleep(0)
    const pending = comp.instance._pending
    if (!pending) return
    comp.instance._pending = null
    await pending
  }
  throw new Error('page kept starting actions; gave up waiting')
}

class PageDriver {
  constructor(route, comp) {
    this.route = route
    this.comp = comp
  }

  get data() { return this.comp.data }

  get instance() { return this.comp.instance }

  find(selector) {
    const el = this.comp.querySelector(selector)
    if (!el) throw new Error(`${this.route}: no element ${selector} is rendered`)
    return el
  }

  has(selector) { return !!this.comp.querySelector(selector) }

  text(selector) { return selector ? this.find(selector).dom.textContent : this.comp.dom.textContent }

  async input(selector, value) {
    this.find(selector).dispatchEvent('input', { detail: { value: String(value) } })
    await settle(this.comp)
  }

  async change(selector, value) {
    this.find(selector).dispatchEvent('change', { detail: { value } })
    await settle(this.comp)
  }

  async tap(selector, detail) {
    this.find(selector).dispatchEvent('tap', detail ? { detail } : {})
    await settle(this.comp)
  }

  async trigger(selector, eventName, detail) {
    this.find(selector).dispatchEvent(eventName, { detail })
    await settle(this.comp)
  }
}

// Opens a page the way the framework does: render, attach, onLoad(query), onShow().
async function openPage(url) {
  const { route, query } = parseUrl(url)
  const id = simulate.load(path.join(ROOT, route), { compiler: 'simulate', rootPath: ROOT })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  const page = new PageDriver(route, comp)
  for (const hook of ['onLoad', 'onShow']) {
    if (typeof comp.instance[hook] === 'function') {
      const result = comp.instance[hook](hook === 'onLoad' ? query : undefined)
      await result
      await settle(comp)
    }
  }
  return page
}

module.exports = { bridge, openPage }
