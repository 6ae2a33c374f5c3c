-- wrk script: GET /v1/subjects/{id} cycling over the ids in $IDS (comma-separated) with $TOKEN.
local ids = {}
for id in string.gmatch(os.getenv("IDS") or "x", "[^,]+") do ids[#ids + 1] = id end
local headers = { ["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or ""), ["X-Purpose"] = "customer_service" }
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/subjects/" .. ids[(i % #ids) + 1], headers)
end
