-- wrk script for `scripts/bench.sh api`: GETs the job documents named in BENCH_IDS
-- (comma-separated, each connection going round them from its own start) with the read token
-- from BENCH_TOKEN, counts answers other than 200, and prints one machine-readable summary line.
local token = os.getenv("BENCH_TOKEN")
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS"), "[^,]+") do
    table.insert(ids, id)
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    wrk.method = "GET"
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Accept"] = "application/json"
    other = 0
    next_id = math.random(#ids)
end

function request()
    next_id = next_id % #ids + 1
    return wrk.format(nil, "/jobs/" .. ids[next_id])
end

function response(status, headers, body)
    if status ~= 200 then
        other = other + 1
    end
end

function done(summary, latency, requests)
    local others = 0
    for _, t in ipairs(threads) do
        others = others + t:get("other")
    end
    local secs = summary.duration / 1e6
    io.write(string.format(
        "BENCH requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non200=%d socket_errors=%d\n",
        summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, others,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
