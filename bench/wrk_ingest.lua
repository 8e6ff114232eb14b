-- wrk driver for bench/load.py --wrk: fresh 100-event batches (the same shape as
-- load.py's make_batch), built in LuaJIT so the generator is not the limit.
-- Environment: LOAD_TARGETS = "path token;path token;...", LOAD_BATCH, LOAD_TS (RFC 3339),
-- LOAD_RATE (requests/s per connection, 0 = full speed), LOAD_RUN (unique per wrk run).
-- Event ids are LOAD_RUN-thread-request-index: unique across threads, phases and runs.
local targets = {}
for path, token in string.gmatch(os.getenv("LOAD_TARGETS") or "/parse -", "([^ ;]+) ([^;]+)") do
  targets[#targets + 1] = {path = path, token = token}
end
local size = tonumber(os.getenv("LOAD_BATCH") or "100")
local ts = os.getenv("LOAD_TS") or "2026-01-01T00:00:00Z"
local rate = tonumber(os.getenv("LOAD_RATE") or "0")
local run = os.getenv("LOAD_RUN") or tostring(os.time())
local counter = 0
local threads = {}

function setup(thread)
  -- A global of the thread's own Lua state: a chunk-level `local tid` here would shadow
  -- it, and every thread would then send the same ids (an earlier version did).
  thread:set("thread_number", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  prefix = string.format("%s-%d", run, tonumber(thread_number) or 0)
end

function delay()
  if rate > 0 then return 1000 / rate end
  return 0
end

function request()
  counter = counter + 1
  local t = targets[(counter % #targets) + 1]
  local slug = string.match(t.path, "/communities/([^/]+)/") or "bare"
  local parts = {}
  for i = 0, size - 1 do
    local typ = (i % 10 == 0) and "member.join" or "message.create"
    parts[#parts + 1] = string.format(
      '{"id":"%s-%d-%d","type":"%s","ts":"%s","community":"%s","actor":{"id":"u%d","name":"someone"},' ..
      '"channel":"general","content":"ordinary chat line number %d about the game tonight"}',
      prefix, counter, i, typ, ts, slug, (counter * size + i) % 5000, i)
  end
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t.token}
  return wrk.format("POST", t.path, headers, "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format('WRKJSON {"requests": %d, "errors": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, errors, summary.duration, latency:percentile(50), latency:percentile(99)))
end
