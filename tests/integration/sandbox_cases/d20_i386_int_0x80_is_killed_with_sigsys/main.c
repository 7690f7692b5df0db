#include <stdio.h>
int main(void) {
    long ret;
    puts("before");
    fflush(stdout);
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L) : "memory");  /* i386 getpid */
    printf("survived %ld\n", ret);
    return 0;
}
