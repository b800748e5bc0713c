-- wrk script for `scripts/bench.sh intake`: POSTs one signed GitHub push (the body and its
-- X-Hub-Signature-256 come from BENCH_BODY and BENCH_SIGNATURE) with a fresh X-GitHub-Delivery
-- per request (the signature covers only the body), counts answers other than 202, and prints
-- one machine-readable summary line.
local body_path = os.getenv("BENCH_BODY")
local signature = os.getenv("BENCH_SIGNATURE")
local nonce = os.getenv("BENCH_NONCE") or "0"

local threads = {}
local counter = 0

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    local f = assert(io.open(body_path, "rb"))
    wrk.body = f:read("*a")
    f:close()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-GitHub-Event"] = "push"
    wrk.headers["X-GitHub-Hook-ID"] = "1"
    wrk.headers["X-Hub-Signature-256"] = signature
    other = 0
end

function request()
    counter = counter + 1
    wrk.headers["X-GitHub-Delivery"] = string.format("bench-%s-%d-%d", nonce, tid, counter)
    return wrk.format()
end

function response(status, headers, body)
    if status ~= 202 then
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
        "BENCH requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non202=%d socket_errors=%d\n",
        summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, others,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
