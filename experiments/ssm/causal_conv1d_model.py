# Model of kernels/causal_conv1d.cu: per-thread chunk walk with find_seq, window restarts at
# sequence starts, input_at into the initial state, and the final-state kernel (in place).
import random
kChunk=64
def find_seq(cu,batch,t):
    lo,hi=0,batch
    while lo<hi:
        mid=(lo+hi+1)//2
        if cu[mid]<=t: lo=mid
        else: hi=mid-1
    return lo
def input_at(x,init,s,c,start,pos,W):
    if pos>=start: return x[pos][c]
    if init is None: return 0.0
    return init[s][c][pos-start+W-1]
def conv(x,cu,w,b,init,W,dim,silu=False):
    T=cu[-1]; batch=len(cu)-1; out=[[None]*dim for _ in range(T)]
    for c in range(dim):
        for ch in range((T+kChunk-1)//kChunk):
            t0=ch*kChunk; t1=min(t0+kChunk,T)
            s=find_seq(cu,batch,t0); start=cu[s]; nxt=cu[s+1]
            win=[input_at(x,init,s,c,start,t0-(W-1)+k,W) for k in range(W-1)]
            for t in range(t0,t1):
                if t>=nxt:
                    while cu[s+1]<=t: s+=1
                    start=cu[s]; nxt=cu[s+1]
                    win=[input_at(x,init,s,c,start,t-(W-1)+k,W) for k in range(W-1)]
                acc=b[c]+sum(w[c][k]*win[k] for k in range(W-1))+w[c][W-1]*x[t][c]
                assert out[t][c] is None; out[t][c]=acc
                win=win[1:]+[x[t][c]]
    # final-state kernel, in place on init
    fin=init
    for s in range(batch):
        for c in range(dim):
            start,end=cu[s],cu[s+1]
            v=[input_at(x,init,s,c,start,end-(W-1)+k,W) for k in range(W-1)]
            fin[s][c]=v
    return out,fin
def ref(x,cu,w,b,init,W,dim):
    out=[[None]*dim for _ in range(cu[-1])]; fin=[]
    for s in range(len(cu)-1):
        fs=[]
        for c in range(dim):
            hist=list(init[s][c])+[x[t][c] for t in range(cu[s],cu[s+1])]
            for i,t in enumerate(range(cu[s],cu[s+1])):
                out[t][c]=b[c]+sum(w[c][k]*hist[i+k] for k in range(W))
            fs.append(hist[-(W-1):])
        fin.append(fs)
    return out,fin
random.seed(2)
for lens,dim,W in [([0,65,130,3],3,2),([1],2,4),([2,2,2,2,2],3,4),([7,1,30,200],2,3),([64,64,0,1],2,4)]:
    cu=[0]
    for l in lens: cu.append(cu[-1]+l)
    T=cu[-1]; R=lambda: random.gauss(0,1)
    x=[[R() for _ in range(dim)] for _ in range(T)]; w=[[R() for _ in range(W)] for _ in range(dim)]; b=[R() for _ in range(dim)]
    init=[[[R() for _ in range(W-1)] for _ in range(dim)] for _ in range(len(lens))]
    ro,rf=ref(x,cu,w,b,[[list(v) for v in s] for s in init],W,dim)
    o,f=conv(x,cu,w,b,[[list(v) for v in s] for s in init],W,dim)
    e=max([abs(o[t][c]-ro[t][c]) for t in range(T) for c in range(dim)]+[0]); fe=max(abs(f[s][c][k]-rf[s][c][k]) for s in range(len(lens)) for c in range(dim) for k in range(W-1))
    print(lens,dim,W,e,fe)
