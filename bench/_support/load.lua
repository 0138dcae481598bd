-- wrk script of bench/load.py: replays a plan of raw HTTP requests (a Lua file written by load.py,
-- path in the environment as LOAD_PLAN: `return { "GET / HTTP/1.1\r\n...", ... }`), each thread
-- starting at its own place in the plan; counts answers by status class; prints one line
-- "LOAD_RESULT {json}" at the end for load.py to read.
--
-- wrk calls request() for every request it sends and response() for every answer (any connection
-- of the thread: answers cannot be matched to requests, so errors are counted by status only; the
-- first few bad answers are kept with the start of their body).

local plan = dofile(os.getenv("LOAD_PLAN"))
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   counter = (id * 997) % #plan
   s2, s3, s4, s5, other = 0, 0, 0, 0, 0
   bad = ""
   nbad = 0
end

function request()
   counter = counter + 1
   if counter > #plan then
      counter = 1
   end
   return plan[counter]
end

function response(status, headers, body)
   if status < 300 then
      s2 = s2 + 1
   elseif status < 400 then
      s3 = s3 + 1
   else
      if status < 500 then s4 = s4 + 1 elseif status < 600 then s5 = s5 + 1 else other = other + 1 end
      if nbad < 5 then
         nbad = nbad + 1
         bad = bad .. status .. " " .. string.sub(body or "", 1, 200):gsub("[%c\"\\]", " ") .. "|"
      end
   end
end

local function num(x)
   return string.format("%.3f", x)
end

function done(summary, latency, requests)
   local t = { s2 = 0, s3 = 0, s4 = 0, s5 = 0, other = 0 }
   local bads = ""
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + thread:get(k)
      end
      bads = bads .. thread:get("bad")
   end
   local e = summary.errors
   io.write("LOAD_RESULT {",
      '"requests":', summary.requests, ',',
      '"duration_us":', summary.duration, ',',
      '"s2xx":', t.s2, ',"s3xx":', t.s3, ',"s4xx":', t.s4, ',"s5xx":', t.s5, ',"sother":', t.other, ',',
      '"connect":', e.connect, ',"read":', e.read, ',"write":', e.write, ',"status":', e.status,
      ',"timeout":', e.timeout, ',',
      '"p50_us":', num(latency:percentile(50)), ',"p95_us":', num(latency:percentile(95)),
      ',"p99_us":', num(latency:percentile(99)), ',"max_us":', num(latency.max),
      ',"mean_us":', num(latency.mean), ',',
      '"bad":"', bads, '"}\n')
end
