const a=[]; while(true) a.push(Buffer.alloc(10<<20, 1));
