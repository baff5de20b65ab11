-- wrk script for bench/api_approve.py: every request approves a distinct pending line item
-- (ids 00000000-0000-4000-8000-<n>) at version 1 with its own Idempotency-Key.
-- BENCH_FIRST: the first n of this run; BENCH_THREADS: wrk's -t; BENCH_KEY: the bearer key
-- (empty for the bare server).
local first = tonumber(os.getenv("BENCH_FIRST"))
local key = os.getenv("BENCH_KEY") or ""
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
local stride = tonumber(os.getenv("BENCH_THREADS"))

function request()
  local n = first + tid + counter * stride
  counter = counter + 1
  local id = string.format("00000000-0000-4000-8000-%012d", n)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. id,
  }
  if key ~= "" then
    headers["Authorization"] = "Bearer " .. key
  end
  return wrk.format("POST", "/v1/line-items/" .. id .. "/approve", headers, '{"version": 1}')
end
