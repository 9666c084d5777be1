// Probe for an int8 Winograd F(2x2,3x3) (issue 13), timings only, one core: on one VGG16-like layer (H x H x C ->
// C, 'same', batch N) it times float32 F(2x2) (vggtool's kernels: transforms and packed products), then in its
// place the int8 products as they would run (each transformed input matrix V[i] quantized to u8 with its own
// dynamic scale, vpdpbusd GEMM against the s8-quantized transformed kernel), and the direct int8 convolution
// (im2col + the same GEMM). The int8 F(2x2) total is estimated as float32 F(2x2)'s transforms plus the int8
// quantization and products. Values are synthetic: the probe measures speed, not accuracy.
//   clang -O3 -ffp-contract=off -ISources/CKernels/include bench/int8_winograd_probe.c Sources/CKernels/kernels.c \
//     Sources/CKernels/lowp.c Sources/CKernels/winograd.c -lopenblas -lm -o /tmp/probe && /tmp/probe 28 512 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include "vgg_kernels.h"
#include "vgg_lowp.h"
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int H=atoi(argv[1]),C=atoi(argv[2]),K=C; int N=argc>3?atoi(argv[3]):1;
  vgg_conv_shape s; memset(&s,0,sizeof s);
  s.n=N;s.h=H;s.w=H;s.c=C;s.k=K;s.kh=3;s.kw=3;s.sh=1;s.sw=1;s.dh=1;s.dw=1;s.oh=H;s.ow=H;s.pad_top=1;s.pad_left=1;
  long T=vgg_winograd_tiles(&s);
  float *in=malloc(4L*N*H*H*C),*w=malloc(4L*9*C*K),*u=malloc(4L*16*C*K),*out=malloc(4L*N*H*H*K),*b=calloc(K,4);
  float *v=malloc(4L*16*T*C),*m=malloc(4L*16*T*K);
  for(long i=0;i<(long)N*H*H*C;i++)in[i]=(i%97)/97.f; for(long i=0;i<9L*C*K;i++)w[i]=((i%31)-15)/300.f;
  vgg_winograd_kernel_transform(w,C,K,u,0,K,1);
  int reps=20; double t0=now(); for(int r=0;r<reps;r++) vgg_winograd_tiles_run(&s,in,u,b,out,0,T,v,m); double tall=(now()-t0)/reps;
  t0=now(); for(int r=0;r<reps;r++) for(int i=0;i<16;i++) vgg_winograd_product(T,C,K,v+(long)i*T*C,u+(long)i*C*K,m+(long)i*T*K); double tprod=(now()-t0)/reps;
  // int8: quantize each V_i (dynamic scale) to u8 rows, u8s8 gemm with packed s8 U_i
  long k4=vgg_lowp_k4(C), n16=vgg_lowp_n16(K);
  int8_t *uq=malloc(9L*C*K>16L*C*K?9L*C*K:16L*C*K), *up=aligned_alloc(64,16L*k4*n16); int32_t *ws=malloc(4L*16*K); uint8_t *vq=malloc((size_t)T*k4);
  float *scale=malloc(4L*n16),*off=malloc(4L*n16);
  for(int i=0;i<16;i++){ for(long c=0;c<C;c++) for(long k=0;k<K;k++) uq[c*K+k]=(int8_t)lrintf(u[(long)i*C*K+ (k/64*C+c)*64+k%64]*100); vgg_lowp_pack_s8(uq,C,K,up+(long)i*k4*n16,ws+(long)i*K); }
  for(int k=0;k<n16;k++){scale[k]=1e-3f;off[k]=0;}
  t0=now(); for(int r=0;r<reps;r++) for(int i=0;i<16;i++){ float mx=0; const float*vi=v+(long)i*T*C; for(long j=0;j<T*C;j++){float a=fabsf(vi[j]); if(a>mx)mx=a;} vgg_lowp_quantize_u8_rows(vi,vq,T,C,k4,127.f/(mx>0?mx:1),128); vgg_lowp_gemm_u8s8(vq,T,k4,k4,up+(long)i*k4*n16,0,n16/16,scale,off,0,m+(long)i*T*K,K,K);} double t8=(now()-t0)/reps;
  // direct int8 estimate: im2col gemm rows N*H*H, k = 9C
  long kk4=vgg_lowp_k4(9L*C); int8_t *dp=aligned_alloc(64,(kk4*n16+63)/64*64); int32_t *dws=malloc(4L*K); for(long i=0;i<9L*C*K;i++)uq[i]=(int8_t)((i%31)-15);
  vgg_lowp_pack_s8(uq,9L*C,K,dp,dws); uint8_t *col=malloc((size_t)N*H*H*kk4); uint8_t *inq=malloc((size_t)N*H*H*C); vgg_lowp_quantize_u8(in,inq,(long)N*H*H*C,100,0);
  t0=now(); for(int r=0;r<reps;r++){ vgg_lowp_im2col_u8(&s,inq,0,(long)N*H*H,col,kk4,0); vgg_lowp_gemm_u8s8(col,(long)N*H*H,kk4,kk4,dp,0,n16/16,scale,off,1,out,K,K);} double td=(now()-t0)/reps;
  printf("%dx%dx%d batch %d, one core: fp32 F2 all %.2f ms (products %.2f, transforms %.2f); int8 F2 quantize+products %.2f ms -> est. total %.2f ms; direct int8 (im2col+gemm) %.2f ms\n",
    H,H,C,N,tall*1e3,tprod*1e3,(tall-tprod)*1e3,t8*1e3,(tall-tprod+t8)*1e3,td*1e3);
}
