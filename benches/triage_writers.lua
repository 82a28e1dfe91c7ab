-- Triage writers for wrk (benches/pg_bench.py): each wrk thread holds one
-- connection, as a ranger's phone does, and PATCHes alerts of its own in turn,
-- each with the ETag of its previous answer for that alert. Alerts are dealt to
-- the threads round-robin; run with as many threads as connections:
--
--   ALERTS="id1=etag1 id2=etag2 ..." WRITERS=16 TOKEN=... wrk -t16 -c16 -d15s -s triage_writers.lua URL
--
-- Prints one line: `writes n=… p50=… p90=… p99=… max=… (ms) ok=… failed=…`.

local all = {}
for pair in string.gmatch(os.getenv("ALERTS") or "", "%S+") do
  all[#all + 1] = pair
end
local token = os.getenv("TOKEN") or ""
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local ok_, failed_ = 0, 0
  for _, t in ipairs(threads) do
    ok_ = ok_ + t:get("ok")
    failed_ = failed_ + t:get("failed")
  end
  io.write(string.format("writes n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f ok=%d failed=%d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, ok_, failed_))
end

-- Per thread (each thread runs this file in a Lua state of its own).
ok, failed = 0, 0
local mine, etags, cur, n = nil, {}, 0, 0
local count = tonumber(os.getenv("WRITERS") or "1")

-- This thread's alerts: every `count`-th, from its number `id` (set by setup()).
local function deal()
  mine = {}
  for i = id, #all, count do
    local alert, etag = string.match(all[i], "([^=]+)=(.+)")
    mine[#mine + 1] = alert
    etags[alert] = etag
  end
  if #mine == 0 then
    error("ALERTS names fewer alerts than wrk has threads")
  end
end

function request()
  if mine == nil then deal() end
  n = n + 1
  cur = mine[(n - 1) % #mine + 1]
  local status = (n % 2 == 0) and "confirmed" or "new"
  local body = '{"status":"' .. status .. '","note":"bench writer #' .. n .. '"}'
  return wrk.format("PATCH", "/collections/alerts/items/" .. cur, {
    ["Authorization"] = "Bearer " .. token,
    ["If-Match"] = etags[cur],
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  local tag = headers["etag"] or headers["ETag"]
  if status == 200 and tag then
    etags[cur] = tag
    ok = ok + 1
  else
    failed = failed + 1
  end
end
