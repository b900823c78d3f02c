# Pure-Python model of kernels/selective_scan.cu's data movement and scan (one sequence set),
# checked against the plain recurrence. Mirrors: slot() layout, fill mapping, float4 reads,
# per-lane maps, 8-lane shfl_up scan, carry via shfl from lane 7, tails, varlen, init state.
import math, random
kSeg=8; kThreads=128; kChan=kThreads//kSeg
def slot(n,r,ITEMS):
    kChunk=kSeg*ITEMS; lane=r//ITEMS; item=r%ITEMS
    return n*(kChunk+4)+(item//4)*(kSeg*4)+lane*4+item%4
def softplus(x): return x if x>20 else math.log1p(math.exp(x))
def silu(x): return x/(1+math.exp(-x))
def kernel(p, NS, ITEMS, nblocks_x, batch):
    kChunk=kSeg*ITEMS; N=p['N']; dim=p['dim']
    out=[[None]*dim for _ in range(p['tokens'])]
    fin=[[[None]*N for _ in range(dim)] for _ in range(batch)]
    for by in range(batch):
        for bx in range(nblocks_x):
            s=by; start=p['cu'][s]; end=p['cu'][s+1]; d0=bx*kChan
            sA=[[0.0]*(NS+1) for _ in range(kChan)]
            for i in range(kChan*N):
                c=i//N; n=i%N
                sA[c][n]= p['A'][(d0+c)*N+n]*1.4426950408889634 if d0+c<dim else 0.0
            h=[[0.0]*NS for _ in range(kThreads)]
            for tid in range(kThreads):
                d=d0+tid//kSeg
                for n in range(NS):
                    h[tid][n]= p['init'][s][d][n] if (d<dim and n<N and p['init'] is not None) else 0.0
            c0=start
            while c0<end:
                sB=[float('nan')]*(NS*(kChunk+4)); sC=list(sB)
                kRows=kThreads//NS
                for tid in range(kThreads):
                    n=tid%NS; r0=tid//NS
                    if n<N:
                        for k in range(kChunk//kRows):
                            r=r0+k*kRows; inn=c0+r<end
                            sB[slot(n,r,ITEMS)]=p['B'][c0+r][n] if inn else 0.0
                            sC[slot(n,r,ITEMS)]=p['C'][c0+r][n] if inn else 0.0
                st={}
                for tid in range(kThreads):
                    lane=tid%kSeg; d=d0+tid//kSeg; valid=d<dim
                    t0=c0+lane*ITEMS; rem=end-t0
                    nin=0 if (not valid or rem<=0) else min(rem,ITEMS)
                    dbias=p['dbias'][d] if valid else 0.0; Dd=p['D'][d] if valid else 0.0
                    dt=[];du=[];y=[];dsum=0.0
                    for i in range(ITEMS):
                        v=0.0; uv=0.0
                        if i<nin:
                            v=p['delta'][t0+i][d]+dbias; v=softplus(v); uv=p['u'][t0+i][d]
                        dt.append(v); dsum+=v; du.append(v*uv); y.append(Dd*uv)
                    st[tid]=dict(lane=lane,d=d,valid=valid,t0=t0,nin=nin,dt=dt,du=du,y=y,dsum=dsum)
                for n in range(NS):
                    if n>=N: break
                    for tid in range(kThreads):
                        S=st[tid]; lane=S['lane']; a=sA[tid//kSeg][n]
                        bx_=[];cv=[]
                        for q in range(ITEMS//4):
                            base=slot(n,lane*ITEMS+4*q,ITEMS)
                            assert base%4==0
                            bx_+=sB[base:base+4]; cv+=sC[base:base+4]
                        P=2**(S['dsum']*a); Q=0.0; dA=[]
                        for i in range(ITEMS):
                            dA.append(2**(S['dt'][i]*a)); bx_[i]*=S['du'][i]; Q=dA[i]*Q+bx_[i]
                        S['P']=P;S['Q']=Q;S['dA']=dA;S['bx']=bx_;S['cv']=cv
                    off=1
                    while off<kSeg:
                        prev={tid:(st[tid]['P'],st[tid]['Q']) for tid in range(kThreads)}
                        for tid in range(kThreads):
                            S=st[tid]; lane=S['lane']
                            src=tid-off if lane>=off else tid
                            Pp,Qp=prev[src]
                            if lane>=off:
                                S['Q']=S['P']*Qp+S['Q']; S['P']*=Pp
                        off*=2
                    prev={tid:(st[tid]['P'],st[tid]['Q']) for tid in range(kThreads)}
                    hn_all={}
                    for tid in range(kThreads):
                        S=st[tid]; lane=S['lane']
                        Pe,Qe=prev[tid-1] if lane>=1 else (1.0,0.0)
                        hn=Pe*h[tid][n]+Qe
                        for i in range(ITEMS):
                            hn=S['dA'][i]*hn+S['bx'][i]; S['y'][i]=hn*S['cv'][i]+S['y'][i]
                        hn_all[tid]=hn
                    for tid in range(kThreads):
                        h[tid][n]=hn_all[(tid//kSeg)*kSeg+kSeg-1]
                for tid in range(kThreads):
                    S=st[tid]
                    for i in range(S['nin']):
                        t=S['t0']+i; v=S['y'][i]*silu(p['z'][t][S['d']])
                        assert out[t][S['d']] is None
                        out[t][S['d']]=v
                c0+=kChunk
            for tid in range(kThreads):
                d=d0+tid//kSeg
                if d<dim and tid%kSeg==0:
                    for n in range(N): fin[s][d][n]=h[tid][n]
    return out,fin
def reference(p,batch):
    dim=p['dim'];N=p['N']; out=[[None]*dim for _ in range(p['tokens'])]; fin=[]
    for s in range(batch):
        h=[[p['init'][s][d][n] for n in range(N)] for d in range(dim)]
        for t in range(p['cu'][s],p['cu'][s+1]):
            for d in range(dim):
                dt=softplus(p['delta'][t][d]+p['dbias'][d]); u=p['u'][t][d]; acc=0.0
                for n in range(N):
                    h[d][n]=math.exp(dt*p['A'][d*N+n])*h[d][n]+dt*p['B'][t][n]*u; acc+=h[d][n]*p['C'][t][n]
                out[t][d]=(acc+p['D'][d]*u)*silu(p['z'][t][d])
        fin.append(h)
    return out,fin
random.seed(1)
for (lens,dim,N,NS,ITEMS) in [([0,130,3,1],20,16,16,16),([70,200],17,8,16,16),([129],5,40,64,8),([33,64],3,32,32,16)]:
    cu=[0]
    for l in lens: cu.append(cu[-1]+l)
    T=cu[-1]; b=len(lens); R=lambda: random.gauss(0,1)
    p=dict(N=N,dim=dim,tokens=T,cu=cu,u=[[R() for _ in range(dim)] for _ in range(T)],delta=[[0.5*R() for _ in range(dim)] for _ in range(T)],
      z=[[R() for _ in range(dim)] for _ in range(T)],B=[[R() for _ in range(N)] for _ in range(T)],C=[[R() for _ in range(N)] for _ in range(T)],
      A=[-math.exp(math.log(0.5)+random.random()*math.log(32)) for _ in range(dim*N)],D=[R() for _ in range(dim)],dbias=[random.uniform(-4,-1) for _ in range(dim)],
      init=[[[R() for _ in range(N)] for _ in range(dim)] for _ in range(b)])
    nbx=(dim+kChan-1)//kChan
    o,f=kernel(p,NS,ITEMS,nbx,b); ro,rf=reference(p,b)
    err=max(abs(o[t][d]-ro[t][d]) for t in range(T) for d in range(dim)) if T else 0
    ferr=max(abs(f[s][d][n]-rf[s][d][n]) for s in range(b) for d in range(dim) for n in range(N))
    print(lens,dim,N,NS,ITEMS,'max|y err|',err,'max|state err|',ferr)
