-- POST /sink scenario: every request carries a 16 KiB body (wrk adds Content-Length).
wrk.method = "POST"
wrk.body = string.rep("x", 16384)
wrk.headers["Content-Type"] = "application/octet-stream"

-- Shared done() reporter, loaded from this file's own directory.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
