process.stdout.write(require('child_process').execSync('printenv').toString())
