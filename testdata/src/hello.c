/* layerscope fixture: minimal hello world (libc only). */
#include <stdio.h>

int main(void)
{
    puts("hello from layerscope fixture");
    return 0;
}
