/* The program of each layer's link check (railhook_<layer>_link_check in CMakeLists.txt): it is
 * linked with every object of the layer and only the layers that layer may use, so the link
 * fails when the layer calls anything above itself. */

int main(void)
{
    return 0;
}
