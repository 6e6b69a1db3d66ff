// From ../shared/reference/medusa-local-server.md (the team's research note), run by start.sh.
// Minimal seed for a support-console test peer: 1 USD region (US), 1 warehouse,
// outbound + return shipping options, 2 products, publishable key, and a few
// orders placed through the real cart -> payment session -> complete-cart flow
// with the built-in system payment provider (pp_system_default).
import { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules, ProductStatus } from "@medusajs/framework/utils"
import {
  addShippingMethodToCartWorkflow, capturePaymentWorkflow, completeCartWorkflow,
  createApiKeysWorkflow, createCartWorkflow, createInventoryLevelsWorkflow,
  createOrderFulfillmentWorkflow, createPaymentCollectionForCartWorkflow,
  createPaymentSessionsWorkflow, createProductsWorkflow, createRegionsWorkflow,
  createSalesChannelsWorkflow, createShippingOptionsWorkflow, createShippingProfilesWorkflow,
  createStockLocationsWorkflow, createTaxRegionsWorkflow, linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow, updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"
import { writeFileSync } from "fs"

export default async function seed({ container }: ExecArgs) {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const fulfillment = container.resolve(Modules.FULFILLMENT)
  const salesChannels = container.resolve(Modules.SALES_CHANNEL)
  const stores = container.resolve(Modules.STORE)
  const regions = container.resolve(Modules.REGION)

  if ((await regions.listRegions({ name: "United States" })).length) {
    logger.info("seed: already seeded, skipping")
    return
  }
  const [store] = await stores.listStores()
  let [sc] = await salesChannels.listSalesChannels({ name: "Default Sales Channel" })
  if (!sc) {
    sc = (await createSalesChannelsWorkflow(container).run({
      input: { salesChannelsData: [{ name: "Default Sales Channel" }] },
    })).result[0]
  }
  await updateStoresWorkflow(container).run({ input: { selector: { id: store.id }, update: {
    supported_currencies: [{ currency_code: "usd", is_default: true }],
    default_sales_channel_id: sc.id,
  } } })

  const region = (await createRegionsWorkflow(container).run({ input: { regions: [{
    name: "United States", currency_code: "usd", countries: ["us"],
    payment_providers: ["pp_system_default"],
  }] } })).result[0]
  await createTaxRegionsWorkflow(container).run({ input: [{ country_code: "us", provider_id: "tp_system" }] })

  const loc = (await createStockLocationsWorkflow(container).run({ input: { locations: [{
    name: "Main Warehouse", address: { city: "Austin", country_code: "US", address_1: "1 Depot Rd" },
  }] } })).result[0]
  await updateStoresWorkflow(container).run({ input: { selector: { id: store.id }, update: { default_location_id: loc.id } } })
  await link.create({
    [Modules.STOCK_LOCATION]: { stock_location_id: loc.id },
    [Modules.FULFILLMENT]: { fulfillment_provider_id: "manual_manual" },
  })

  let [profile] = await fulfillment.listShippingProfiles({ type: "default" })
  if (!profile) {
    profile = (await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: "Default Shipping Profile", type: "default" }] },
    })).result[0]
  }
  const fset = await fulfillment.createFulfillmentSets({
    name: "Main Warehouse delivery", type: "shipping",
    service_zones: [{ name: "US", geo_zones: [{ country_code: "us", type: "country" }] }],
  })
  await link.create({
    [Modules.STOCK_LOCATION]: { stock_location_id: loc.id },
    [Modules.FULFILLMENT]: { fulfillment_set_id: fset.id },
  })
  const so = (await createShippingOptionsWorkflow(container).run({ input: [
    {
      name: "Standard Shipping", price_type: "flat", provider_id: "manual_manual",
      service_zone_id: fset.service_zones[0].id, shipping_profile_id: profile.id,
      type: { label: "Standard", description: "2-3 days", code: "standard" },
      prices: [{ currency_code: "usd", amount: 10 }, { region_id: region.id, amount: 10 }],
      rules: [
        { attribute: "enabled_in_store", value: "true", operator: "eq" },
        { attribute: "is_return", value: "false", operator: "eq" },
      ],
    },
    {
      name: "Return Shipping", price_type: "flat", provider_id: "manual_manual",
      service_zone_id: fset.service_zones[0].id, shipping_profile_id: profile.id,
      type: { label: "Return", description: "Customer ships back", code: "return" },
      prices: [{ currency_code: "usd", amount: 0 }, { region_id: region.id, amount: 0 }],
      rules: [
        { attribute: "enabled_in_store", value: "true", operator: "eq" },
        { attribute: "is_return", value: "true", operator: "eq" },
      ],
    },
  ] })).result
  await linkSalesChannelsToStockLocationWorkflow(container).run({ input: { id: loc.id, add: [sc.id] } })

  const pk = (await createApiKeysWorkflow(container).run({ input: { api_keys: [
    { title: "Webshop", type: "publishable", created_by: "" },
  ] } })).result[0]
  await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: pk.id, add: [sc.id] } })

  const products = (await createProductsWorkflow(container).run({ input: { products: [
    {
      title: "Support T-Shirt", handle: "t-shirt", status: ProductStatus.PUBLISHED,
      shipping_profile_id: profile.id, options: [{ title: "Size", values: ["S", "M"] }],
      variants: [
        { title: "S", sku: "SHIRT-S", options: { Size: "S" }, prices: [{ amount: 25, currency_code: "usd" }] },
        { title: "M", sku: "SHIRT-M", options: { Size: "M" }, prices: [{ amount: 25, currency_code: "usd" }] },
      ],
      sales_channels: [{ id: sc.id }],
    },
    {
      title: "Coffee Mug", handle: "mug", status: ProductStatus.PUBLISHED,
      shipping_profile_id: profile.id, options: [{ title: "Color", values: ["White"] }],
      variants: [{ title: "White", sku: "MUG-W", options: { Color: "White" }, prices: [{ amount: 12.5, currency_code: "usd" }] }],
      sales_channels: [{ id: sc.id }],
    },
  ] } })).result
  const { data: inv } = await query.graph({ entity: "inventory_item", fields: ["id"] })
  await createInventoryLevelsWorkflow(container).run({ input: { inventory_levels: inv.map((i: any) => ({
    location_id: loc.id, stocked_quantity: 1000, inventory_item_id: i.id,
  })) } })

  const variants = products.flatMap((p: any) => p.variants)
  const sku = (s: string) => variants.find((v: any) => v.sku === s).id
  const address = { first_name: "Ada", last_name: "Buyer", address_1: "1 Main St", city: "Austin", country_code: "us", postal_code: "73301" }

  async function placeOrder(email: string, items: { variant_id: string; quantity: number }[], opts: { capture: boolean; fulfill: boolean }) {
    const cart = (await createCartWorkflow(container).run({ input: {
      region_id: region.id, sales_channel_id: sc.id, email, currency_code: "usd",
      shipping_address: address, billing_address: address, items,
    } })).result
    await addShippingMethodToCartWorkflow(container).run({ input: { cart_id: cart.id, options: [{ id: so[0].id }] } })
    await createPaymentCollectionForCartWorkflow(container).run({ input: { cart_id: cart.id } })
    const { data: [c] } = await query.graph({ entity: "cart", fields: ["payment_collection.id"], filters: { id: cart.id } })
    await createPaymentSessionsWorkflow(container).run({ input: {
      payment_collection_id: (c as any).payment_collection.id, provider_id: "pp_system_default",
    } })
    const { result: { id: orderId } } = await completeCartWorkflow(container).run({ input: { id: cart.id } })
    const { data: [o] } = await query.graph({ entity: "order", filters: { id: orderId },
      fields: ["id", "display_id", "email", "items.id", "items.variant_id", "payment_collections.payments.id"] })
    const order: any = o
    if (opts.capture) {
      await capturePaymentWorkflow(container).run({ input: { payment_id: order.payment_collections[0].payments[0].id } })
    }
    if (opts.fulfill) {
      await createOrderFulfillmentWorkflow(container).run({ input: {
        order_id: order.id, location_id: loc.id,
        items: order.items.map((i: any) => ({ id: i.id, quantity: items.find((x) => x.variant_id === i.variant_id)!.quantity })),
      } })
    }
    logger.info(`seed: order #${order.display_id} ${order.id} ${email} capture=${opts.capture} fulfill=${opts.fulfill}`)
    return order
  }

  const orders = [
    await placeOrder("alice@example.test", [{ variant_id: sku("SHIRT-M"), quantity: 2 }, { variant_id: sku("MUG-W"), quantity: 1 }], { capture: true, fulfill: true }),
    await placeOrder("alice@example.test", [{ variant_id: sku("MUG-W"), quantity: 3 }], { capture: true, fulfill: false }),
    await placeOrder("bob@example.test", [{ variant_id: sku("SHIRT-S"), quantity: 1 }], { capture: false, fulfill: false }),
  ]
  const out = {
    publishable_key: pk.token, region_id: region.id, sales_channel_id: sc.id, stock_location_id: loc.id,
    shipping_option_id: so[0].id, return_shipping_option_id: so[1].id,
    variants: Object.fromEntries(variants.map((v: any) => [v.sku, v.id])),
    orders: orders.map((o: any) => ({ id: o.id, display_id: o.display_id, email: o.email })),
  }
  writeFileSync(process.env.SEED_OUT || "seed-output.json", JSON.stringify(out, null, 2))
  logger.info("seed: done")
}
