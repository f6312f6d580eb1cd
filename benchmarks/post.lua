-- wrk script for the local-server section: POSTs Tencent-like alarms, each with a new
-- sessionId, except a share of resends of a recent one (as Tencent does when an ack is late).
-- Usage: wrk -s post.lua URL -- TEMPLATE_FILE RESEND_SHARE PREFIX
-- done() prints one JSON line with the figures the harness reads.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  template = f:read("*a")
  f:close()
  share = tonumber(args[2])
  prefix = args[3]
  n = 0
  resends = 0
  math.randomseed(id * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local sid
  if n > 0 and math.random() < share then
    sid = prefix .. "-" .. id .. "-" .. math.random(math.max(1, n - 50), n)
    resends = resends + 1
  else
    n = n + 1
    sid = prefix .. "-" .. id .. "-" .. n
  end
  local body = template:gsub("__SESSION__", sid)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local distinct, resent = 0, 0
  for _, t in ipairs(threads) do
    distinct = distinct + t:get("n")
    resent = resent + t:get("resends")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"error_detail":"connect %d read %d write %d status %d timeout %d",' ..
    '"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"sent_distinct":%d,"sent_resends":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, distinct, resent))
end
