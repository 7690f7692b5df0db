const fs = require("fs");
for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n")) {
  const f = line.split(" ");
  console.log(f[4] + " " + f[5]);
}
