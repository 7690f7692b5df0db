const net = require('net');
console.log(Object.keys(require('os').networkInterfaces()).join(' '));
const attempt = ([host, port]) => new Promise(done => {
  const s = net.connect({host, port}, () => { console.log(host, 'CONNECTED'); s.destroy(); done(); });
  s.on('error', e => { console.log(host, e.code); done(); });
});
(async () => {
  for (const t of [['127.0.0.1', 22], ['8.8.8.8', 53], ['::1', 22]]) await attempt(t);
  require('dns').lookup('pypi.org', err => console.log('dns', err ? err.code : 'resolved'));
})();
