import struct, os
M=os.path.expanduser('~/.cache/joulebench/models/')
LAYOUT={0:(1,4),1:(1,2),30:(1,2),2:(32,18),3:(32,20),6:(32,22),7:(32,24),8:(32,34),10:(256,84),11:(256,110),12:(256,144),13:(256,176),14:(256,210),15:(256,292)}
SC={0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}
def read(path):
    f=open(path,'rb'); b=f.read(32<<20)
    p=[0]
    def r(fmt):
        v=struct.unpack_from('<'+fmt,b,p[0]); p[0]+=struct.calcsize('<'+fmt); return v[0]
    def s():
        n=r('Q'); v=b[p[0]:p[0]+n]; p[0]+=n; return v
    def val(t):
        if t==8: return s()
        if t==9:
            et=r('I'); n=r('Q'); return (et,[val(et) for _ in range(n)])
        return r(SC[t])
    assert b[:4]==b'GGUF'; p[0]=4
    ver=r('I'); nt=r('Q'); nk=r('Q')
    kv=[]
    for _ in range(nk):
        k=s(); t=r('I'); kv.append((k,t,val(t)))
    ts=[]
    for _ in range(nt):
        name=s(); nd=r('I'); dims=[r('Q') for _ in range(nd)]; ty=r('I'); off=r('Q'); ts.append((name,dims,ty,off))
    data_off=(p[0]+31)//32*32
    return kv,ts,data_off,f
def w_str(x): return struct.pack('<Q',len(x))+x
def w_val(t,v):
    if t==8: return w_str(v)
    if t==9:
        et,items=v; items=items[:8]
        return struct.pack('<IQ',et,len(items))+b''.join(w_val(et,i) for i in items)
    return struct.pack('<'+SC[t],v)
def make(path,out,dq):
    kv,ts,data_off,f=read(path)
    chosen={}
    for (name,dims,ty,off) in ts:
        if ty not in chosen and ty in LAYOUT: chosen[ty]=(name,dims,ty,off)
    body=b'GGUF'+struct.pack('<IQQ',3,len(chosen),len(kv))
    for k,t,v in kv: body+=w_str(k)+struct.pack('<I',t)+w_val(t,v)
    blobs=[]; off=0; infos=b''
    for ty,(name,dims,_,toff) in sorted(chosen.items()):
        block,size=LAYOUT[ty]
        nblocks=2 if block>1 else 64
        f.seek(data_off+toff); raw=f.read(nblocks*size)
        dq.append((ty,raw))
        newdims=[block*nblocks] if block>1 else [8,8]
        infos+=w_str(name)+struct.pack('<I',len(newdims))+b''.join(struct.pack('<Q',d) for d in newdims)+struct.pack('<IQ',ty,off)
        pad=b'\0'*((-len(raw))%32)
        blobs.append(raw+pad); off+=len(raw)+len(pad)
    body+=infos
    body+=b'\0'*((-len(body))%32)
    body+=b''.join(blobs)
    os.makedirs('fuzz/corpus/gguf',exist_ok=True)
    open('fuzz/corpus/gguf/'+out,'wb').write(body)
    print(out,len(body),sorted(chosen))
dq=[]
make(M+'SmolLM2-135M-Instruct.Q4_1.gguf','smollm2-slice.gguf',dq)
make(M+'gemma-3-270m-q4_k_m.gguf','gemma3-slice.gguf',dq)
TYPES=[0,1,2,3,6,7,8,10,11,12,13,14,15,30,16]
os.makedirs('fuzz/corpus/gguf_dequant',exist_ok=True)
seen=set()
for ty,raw in dq:
    if ty in seen: continue
    seen.add(ty)
    open(f'fuzz/corpus/gguf_dequant/type-{ty}','wb').write(bytes([TYPES.index(ty)])+b'\0\0\0\0'+raw)
