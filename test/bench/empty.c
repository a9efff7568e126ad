/* The floor: the cheapest program there is to exec. */
int main(void)
{
    return 0;
}
