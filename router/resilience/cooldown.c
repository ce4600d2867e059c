/* cooldown.c - per-model Retry-After cooldowns of one endpoint (see cooldown.h). */
#include "cooldown.h"

static uint64_t model_key(const char *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *m; m++) h = (h ^ (unsigned char)*m) * 0x100000001b3ull;
    return h ? h : 1; /* 0 marks a free slot */
}

void sy_cooldown_set(sy_cooldowns *c, const char *model, uint64_t until_ns, uint64_t now_ns)
{
    uint64_t k = model_key(model);
    int use = 0;
    for (int i = 0; i < SY_COOLDOWN_SLOTS; i++) {
        if (c->slot[i].model == k) {
            if (until_ns > c->slot[i].until) c->slot[i].until = until_ns;
            return;
        }
    }
    /* A free or expired slot, else the one that ends soonest. */
    for (int i = 0; i < SY_COOLDOWN_SLOTS; i++) {
        if (!c->slot[i].model || c->slot[i].until <= now_ns) {
            use = i;
            break;
        }
        if (c->slot[i].until < c->slot[use].until) use = i;
    }
    c->slot[use].model = k;
    c->slot[use].until = until_ns;
}

uint64_t sy_cooldown_until(const sy_cooldowns *c, const char *model, uint64_t now_ns)
{
    uint64_t k = model_key(model);
    for (int i = 0; i < SY_COOLDOWN_SLOTS; i++)
        if (c->slot[i].model == k) return c->slot[i].until > now_ns ? c->slot[i].until : 0;
    return 0;
}

uint64_t sy_cooldown_latest(const sy_cooldowns *c, uint64_t now_ns)
{
    uint64_t latest = 0;
    for (int i = 0; i < SY_COOLDOWN_SLOTS; i++)
        if (c->slot[i].model && c->slot[i].until > now_ns && c->slot[i].until > latest)
            latest = c->slot[i].until;
    return latest;
}
