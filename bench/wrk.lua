-- wrk script for bench/run.sh. Rotates API keys over every seeded tenant
-- (bench/results/keys-<set>.tsv: key, tenant id, one project id per line).
-- WRK_MODE: list | get | create | create_idem (each with an
-- Idempotency-Key of its own) | mixed | get_nokey | hello, or
-- list_bearer | get_bearer with WRK_KEYS a bench-tokens file (access tokens
-- in the first column, sent as `Authorization: Bearer`).
-- Prints one JSON line with the closed-loop figures when done.

local mode = os.getenv("WRK_MODE") or "list"
local keys_file = os.getenv("WRK_KEYS")
local rows = {}
for line in io.lines(keys_file) do
  local key, tenant, project = line:match("^(%S+)\t(%S+)\t(%S+)$")
  if key then rows[#rows + 1] = { key = key, tenant = tenant, project = project } end
end
local n = #rows
local i = 0
local counter = 0
local sent = 0

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

function init(args)
  i = (offset or 0) % n
  math.randomseed(os.time() + (offset or 0))
end

local function body(name)
  return '{"name":"' .. name .. '"}'
end

local function credential(r)
  if mode:sub(-7) == "_bearer" then
    return { ["Authorization"] = "Bearer " .. r.key }
  end
  return { ["X-API-Key"] = r.key }
end

function request()
  i = i % n + 1
  local r = rows[i]
  local m = mode:gsub("_bearer$", "")
  if m == "mixed" then
    local x = math.random(100)
    if x <= 40 then m = "list" elseif x <= 80 then m = "get" elseif x <= 95 then m = "create" else m = "update" end
  end
  if m == "list" then
    return wrk.format("GET", "/v1/projects?limit=20", credential(r))
  elseif m == "get" then
    return wrk.format("GET", "/v1/projects/" .. r.project, credential(r))
  elseif m == "create" then
    return wrk.format("POST", "/v1/projects", { ["X-API-Key"] = r.key, ["Content-Type"] = "application/json" }, body("load " .. i))
  elseif m == "create_idem" then
    sent = sent + 1
    local key = string.format("bench-%d-%d-%d-%d", os.time(), offset or 0, sent, math.random(1000000000))
    return wrk.format("POST", "/v1/projects",
      { ["X-API-Key"] = r.key, ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body("load " .. i))
  elseif m == "update" then
    return wrk.format("PATCH", "/v1/projects/" .. r.project, { ["X-API-Key"] = r.key, ["Content-Type"] = "application/json" }, body("renamed " .. i))
  elseif m == "get_nokey" then
    return wrk.format("GET", "/bench/projects/" .. r.project, { ["X-Bench-Tenant"] = r.tenant })
  else
    return wrk.format("GET", "/bench/hello")
  end
end

local bad = 0
function response(status, headers, body)
  if status >= 400 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
