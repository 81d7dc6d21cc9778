-- wrk script: Traccar position forwarding, one position per request, each request a new
-- fix (distinct device and time), like a gateway forwarding a city's terminals.
-- Environment: BENCH_TOKEN (the gateway secret), BENCH_DEVICES (device count),
-- BENCH_BASE_EPOCH (first fix time, epoch seconds).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("BENCH_TOKEN")
  devices = tonumber(os.getenv("BENCH_DEVICES"))
  base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  mine = {}
  for d = id, devices - 1, nthreads do table.insert(mine, d) end
end

function request()
  local slot = counter % #mine
  local round = math.floor(counter / #mine)
  counter = counter + 1
  local device = mine[slot + 1]
  local t = base + round * 10
  local fix = os.date("!%Y-%m-%dT%H:%M:%S.000+00:00", t)
  local lat = 31.70 + (device % 100) * 0.001
  local lng = 119.90 + round * 0.0009
  local body = string.format(
    '{"position":{"id":%d,"attributes":{"ignition":true,"motion":true},"deviceId":%d,' ..
    '"protocol":"jt808","serverTime":"%s","deviceTime":"%s","fixTime":"%s","outdated":false,' ..
    '"valid":true,"latitude":%.6f,"longitude":%.6f,"altitude":10.0,"speed":19.4,' ..
    '"course":90.0,"accuracy":5.0},"device":{"id":%d,"name":"bench","uniqueId":"%s",' ..
    '"status":"online","lastUpdate":"%s","category":"car","disabled":false}}',
    counter, device, fix, fix, fix, lat, lng, device, string.format("86%013d", 100000 + device), fix)
  return wrk.format("POST", "/api/v1/telemetry/traccar",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    errors = (errors or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = summary.errors.status
  io.write(string.format("NON200 %d\n", bad))
end
