#!/usr/bin/env python3
"""Per-read figures of the interleaved rounds, less each build's fixed cost
(the 1-second run of the same round: opening the database and ~1 s of reads)."""
import re, statistics, sys
import os
W=os.environ.get('W', '/work/readcmp')+'/out/'
def load(name):
    perf={}
    for line in open(W+name+'.perf'):
        f=line.strip().split(',')
        if len(f)>3 and f[0] and f[0][0].isdigit():
            perf[f[2]]=float(f[0])
    rus=dict(l.split() for l in open(W+name+'.rusage') if len(l.split())==2)
    log=open(W+name+'.log').read()
    m=re.search(r'^(readrandom|seekrandom)\s*:.* ([0-9]+) ops/sec .* ([0-9]+) operations', log, re.M)
    return dict(ops=int(m.group(3)), rate=int(m.group(2)), rb=int(rus['read_bytes']), cpu=perf['task-clock'],
                mj=perf['major-faults'], sc=perf['raw_syscalls:sys_enter'])
rounds=[int(r) for r in sys.argv[1:]] or [2,3]
for b in ['readrandom','seekrandom']:
    for t in [1,2]:
        for v in ['old','new','pebble']:
            rows=[]
            for r in rounds:
                try:
                    x=load(f'{b}-{t}-{v}-r{r}'); fx=load(f'fixed-{v}-r{r}')
                except Exception as e:
                    continue
                n=x['ops']-fx['ops']
                rows.append(dict(rate=x['rate'], kib=(x['rb']-fx['rb'])/1024/n, cpu=(x['cpu']-fx['cpu'])*1000/n,
                                 mj=(x['mj']-fx['mj'])/n, sc=(x['sc']-fx['sc'])/n))
            if not rows: continue
            def col(k, fmt):
                vals=[r[k] for r in rows]
                return (fmt % statistics.median(vals)) + ' (' + '/'.join(fmt % v for v in vals) + ')'
            print(f'{b}-{t} {v:6s} ops/s {col("rate","%d")}  KiB/read {col("kib","%.2f")}  cpu µs/read {col("cpu","%.1f")}  majflt/read {col("mj","%.2f")}  syscalls/read {col("sc","%.2f")}')
