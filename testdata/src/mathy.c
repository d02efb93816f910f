/* layerscope fixture: uses libm so that NEEDED lists libm.so.6. */
#include <math.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    printf("exp(%d) = %f\n", argc, exp((double)argc));
    return 0;
}
