import time
t = time.process_time()
while time.process_time() - t < 0.8: pass
time.sleep(100)
