-- wrk script: sign-ins with the second step (password, then a TOTP code), for
-- bench/run figure 7. Run with as many threads as connections (wrk -tN -cN): each
-- thread's one connection alternates sign-in and verify, so the verify that follows a
-- sign-in carries that sign-in's ticket and its user's code.
--   wrk -t8 -c8 -s bench/second_step.lua URL -- CODES_FILE PASSWORD THREADS ROUND ROUNDS
-- CODES_FILE (bench/second_step.py codes): the first step, then "email next code ..."
-- per user (next: the first step the user has not used). A step is accepted once per
-- user, so the threads share the users out and take turns over them; a turn with no
-- step left is counted as `dry`.
local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

local users, first, password
local turn, current, ticket = 1, nil, nil
signed, dry = 0, 0

function init(args)
  local file = assert(io.open(args[1]))
  password = args[2]
  local count_all = tonumber(args[3])
  -- Each of ROUNDS runs (0-based ROUND) takes its own share of the users, so no run
  -- replays a step another one spent.
  local round, rounds = tonumber(args[4]), tonumber(args[5])
  first = tonumber(file:read("*l"))
  users = {}
  local i = 0
  for line in file:lines() do
    if i % rounds == round and math.floor(i / rounds) % count_all == id then
      local email, next, rest = line:match("^(%S+)%s+(%d+)%s+(.*)$")
      local codes = {}
      for c in rest:gmatch("%d+") do table.insert(codes, c) end
      table.insert(users, { email = email, codes = codes, next = tonumber(next) })
    end
    i = i + 1
  end
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if ticket then
    local body = '{"ticket":"' .. ticket .. '","code":"' .. current.code .. '"}'
    ticket = nil
    return wrk.format("POST", "/auth/two-factor/verify", nil, body)
  end
  local now = os.time()
  local cur, into = math.floor(now / 30), now % 30
  local lowest = cur + 1
  if into <= 28 then lowest = cur end
  if into <= 25 then lowest = cur - 1 end
  for _ = 1, #users do
    local u = users[turn]
    turn = turn % #users + 1
    local step = math.max(u.next, lowest)
    local c = u.codes[step - first + 1]
    if step <= cur + 1 and c then
      u.next = step + 1
      current = { code = c }
      return wrk.format("POST", "/auth/sign-in/email", nil,
        '{"email":"' .. u.email .. '","password":"' .. password .. '"}')
    end
  end
  dry = dry + 1
  current = nil
  return wrk.format("GET", "/healthz")
end

rejected = 0

function response(status, headers, body)
  if status ~= 200 then
    rejected = rejected + 1
    if rejected <= 3 then io.stderr:write("rejected: " .. status .. " " .. body .. "\n") end
  end
  if current and not ticket and body:find('"twoFactorRequired":true', 1, true) then
    ticket = body:match('"ticket":"([^"]+)"')
  elseif status == 200 and body:find('"token":', 1, true) then
    signed = signed + 1
  end
end

function done(summary, latency, requests)
  local total, empty, refused = 0, 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("signed")
    empty = empty + t:get("dry")
    refused = refused + t:get("rejected")
  end
  io.write(string.format("second-step sign-ins: %d in %.3f s; dry turns: %d; refused: %d\n",
    total, summary.duration / 1e6, empty, refused))
end
