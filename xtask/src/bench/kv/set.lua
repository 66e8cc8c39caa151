-- `cargo xtask bench kv`: durable sets through `wasmhub serve`. Each request POSTs a
-- 64-byte body to /set with a key of its own (thread id and counter), cycling through
-- KEYS_PER_THREAD keys per thread so the store stays under its key limit. `done` prints
-- the 200 responses of every thread: only those count as acknowledged writes.

local KEYS_PER_THREAD = 20000
local threads = {}
local body = string.rep("v", 64)

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  ok = 0
end

function request()
  n = n + 1
  local path = "/set?key=w" .. id .. "-" .. (n % KEYS_PER_THREAD)
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("ok")
  end
  io.write(string.format("acknowledged %d\n", total))
end
