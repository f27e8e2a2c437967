-- POSTs the bodies listed in BODIES_FILE (one per line) round robin, with HEADERS_FILE's headers.
-- Counts responses by status and prints them as JSON when the run is done.
local bodies = {}
local index = 0
statuses = {}
local threads = {}

-- done() runs in another Lua state than the threads: collect each thread's counts through it.
setup = function(thread)
  table.insert(threads, thread)
end
local content_type = os.getenv("CONTENT_TYPE") or "application/json"

for line in io.lines(os.getenv("BODIES_FILE")) do
  if #line > 0 then
    local body, auth, forwarded = line:match("^(.-)\t(.-)\t(.*)$")
    if body == nil then body, auth, forwarded = line, "", "" end
    local headers = { ["Content-Type"] = content_type }
    if auth ~= "" then headers["Authorization"] = auth end
    if forwarded ~= "" then headers["X-Forwarded-For"] = forwarded end
    table.insert(bodies, wrk.format("POST", nil, headers, body))
  end
end

request = function()
  index = index % #bodies + 1
  return bodies[index]
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
