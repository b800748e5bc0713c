-- wrk script for `scripts/bench.sh api`: GETs the job documents named in BENCH_IDS
-- (comma-separated, each connection going round them from its own start) with the read token
-- from BENCH_TOKEN, and prints one machine-readable summary line with the answers of status 400
-- and up that wrk counted. The requests are formatted once, and no response() callback is
-- defined, so wrk does not hand every answer's headers and body to Lua: the load generator
-- shares the two cores with railhook, as pgbench shares them with PostgreSQL.
local token = os.getenv("BENCH_TOKEN")
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS"), "[^,]+") do
    table.insert(ids, id)
end

function init(args)
    wrk.method = "GET"
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Accept"] = "application/json"
    reqs = {}
    for i, id in ipairs(ids) do
        reqs[i] = wrk.format(nil, "/jobs/" .. id)
    end
    next_id = math.random(#ids)
end

function request()
    next_id = next_id % #ids + 1
    return reqs[next_id]
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    io.write(string.format(
        "BENCH requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f status400=%d socket_errors=%d\n",
        summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
